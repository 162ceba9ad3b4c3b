import { Type, type Static } from 'typebox';

/** What a login, a refresh or an organization switch answers, in either plane (the OAuth2 token response). */
export const TokenResponse = Type.Object(
  {
    access_token: Type.String({ description: 'JWT; send it as `Authorization: Bearer <access_token>`' }),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
    refresh_token: Type.String({ description: 'Opaque, single use: `POST /api/auth/refresh` rotates it' }),
  },
  { title: 'TokenResponse' },
);
export type TokenResponse = Static<typeof TokenResponse>;
