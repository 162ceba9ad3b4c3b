// Generated from docs/openapi.json by `npm run openapi` (openapi-typescript). Do not edit by hand.

export interface paths {
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Service information */
        get: operations["getServiceInfo"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process is up */
        get: operations["getHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the core database answers */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Register (core account, or a member of the tenant named by X-TENANT)
         * @description Core: creates a core user and emails a verification link (never returned). Tenant: creates a tenant user with role `member`, unless the organization disabled sign-up. `is_owner` is ignored in a tenant context.
         */
        post: operations["register"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Verify an email (the emailed link) */
        get: operations["verifyEmailByLink"];
        put?: never;
        /** Verify an email with the emailed token */
        post: operations["verifyEmail"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/verify/resend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a new verification link
         * @description Always 202, whether or not the account exists or is already verified.
         */
        post: operations["resendVerification"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log in: JSON {email, password} or the OAuth2 password form (username, password)
         * @description Core: an unverified account gets 403 EMAIL_NOT_VERIFIED. Tenant: an inactive user with the right password gets 403 USER_INACTIVE. Send `email` (JSON) or `username` (the form).
         */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Exchange a refresh token for new tokens (rotation; reuse revokes the family) */
        post: operations["refreshTokens"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Revoke a refresh token (and the session it belongs to) */
        post: operations["logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/password-reset": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Email a password reset link
         * @description Always 202, whether or not the account exists.
         */
        post: operations["requestPasswordReset"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/password-reset/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Set a new password with the emailed token; ends every session of the user */
        post: operations["confirmPasswordReset"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller (a core user, or a tenant user with X-TENANT) */
        get: operations["getMe"];
        /** Update the caller in a tenant (same as PATCH) */
        put: operations["replaceMe"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update the caller: core {password, current_password}; tenant {email?, password?, current_password?}
         * @description Changing a password needs `current_password` (401 INVALID_CREDENTIALS when wrong) and ends the other sessions.
         */
        patch: operations["updateMe"];
        trace?: never;
    };
    "/api/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the tenant's users (owners and admins), inactive ones included */
        get: operations["listUsers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/users/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One tenant user (owners and admins) */
        get: operations["getUser"];
        put?: never;
        post?: never;
        /** Delete a tenant user (owners and admins; never the organization owner: 409 OWNER_PROTECTED) */
        delete: operations["deleteUser"];
        options?: never;
        head?: never;
        /**
         * Change a user's role or active flag (owners and admins; only owners touch owners)
         * @description The organization's owner (the user linked to its core owner) cannot be demoted or deactivated (409 OWNER_PROTECTED), nor the last active owner (409 LAST_OWNER). An admin acting on an owner: 403.
         */
        patch: operations["updateUser"];
        trace?: never;
    };
    "/api/organizations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's organizations */
        get: operations["listOrganizations"];
        put?: never;
        /**
         * Create an organization and its tenant database (verified owners)
         * @description Answers once the tenant database exists, is migrated and holds the owner as a tenant user with role `owner`. The slug is derived from the name when not given. An owner may have `MAX_ORGANIZATIONS_PER_OWNER` organizations that are not deleted (403 QUOTA_EXCEEDED past it) and create `ORGANIZATION_RATE_LIMIT` of them per window (429).
         */
        post: operations["createOrganization"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/organizations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One of the caller’s organizations */
        get: operations["getOrganization"];
        put?: never;
        post?: never;
        /** Delete an organization and drop its tenant database */
        delete: operations["deleteOrganization"];
        options?: never;
        head?: never;
        /** Rename an organization or turn tenant sign-up on or off */
        patch: operations["updateOrganization"];
        trace?: never;
    };
    "/api/organizations/{id}/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A tenant token for the owner's user inside the organization (role owner) */
        post: operations["exchangeOwnerToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/organizations/{id}/domains": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * An organization's custom domains
         * @description All of them, alphabetically, in one page (at most 20).
         */
        get: operations["listOrganizationDomains"];
        put?: never;
        /**
         * Attach a custom domain to an organization
         * @description Requests whose host (`Host`, or `X-Forwarded-Host` from a proxy `TRUST_PROXY` trusts) is this domain run in the organization's tenant, as with `X-TENANT`. The domain is stored lower-case. It must be a DNS host name of two labels or more, not `TENANT_BASE_DOMAIN` or a name under it (those are tenant subdomains already), nor the server's own host (`PUBLIC_URL`): 422. A domain attached to any live organization (this one included) is 409 DOMAIN_TAKEN. At most 20 per organization (403 QUOTA_EXCEEDED). Domains are not verified: point DNS at the server for the domains you attach.
         */
        post: operations["addOrganizationDomain"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/organizations/{id}/domains/{domain}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Detach a custom domain
         * @description Requests to it select no tenant any more, in every process at once (with `REDIS_URL`), and any organization may attach it.
         */
        delete: operations["removeOrganizationDomain"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/invitations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the organization's invitations in one status (owners and admins) */
        get: operations["listInvitations"];
        put?: never;
        /**
         * Invite an email into the organization with a role (owners and admins)
         * @description Emails a single-use link `PUBLIC_URL/invitations/accept?tenant=<slug>&token=<T>`, valid `VERIFICATION_TOKEN_EXPIRE_HOURS`. A pending invitation of the same email is revoked and replaced (its link stops working). Admins cannot invite owners (403 FORBIDDEN); an email that already has a user in this organization is 409 ALREADY_MEMBER.
         */
        post: operations["createInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/invitations/lookup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What an invitation token is for (organization, email, role), before accepting
         * @description No authentication: the token is the credential. Used, revoked, replaced or unknown tokens: 404 TOKEN_INVALID; expired: 400 TOKEN_EXPIRED. Only the invitee's own email is shown.
         */
        get: operations["lookupInvitation"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/invitations/accept": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Accept an invitation: creates the tenant user with the invited role
         * @description Works even when the organization disabled open sign-up. The token is single use. 409 ALREADY_MEMBER when a user with the invited email exists by now. Log in afterwards with `POST /api/auth/login`.
         */
        post: operations["acceptInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/invitations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an invitation: its link stops working (owners and admins)
         * @description Idempotent: revoking a revoked invitation is 204 again. An accepted one is 409 INVITATION_NOT_PENDING (remove the user instead). Only owners revoke invitations of owners.
         */
        delete: operations["revokeInvitation"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/invitations/{id}/resend": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Email a pending invitation again, with a new link (owners and admins)
         * @description The previous link stops working and the expiry starts again. Accepted, revoked and expired invitations are 409 INVITATION_NOT_PENDING (invite the email anew instead).
         */
        post: operations["resendInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/audit-events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Audit events, newest first (tenant: owners and admins; core: your own)
         * @description Tenant context: the tenant's events (logins, logouts, password, role and status changes, deletions, invitations, owner token exchanges), for owners and admins. Core context: the core events of the caller's organizations and of the caller's own account. Events older than `AUDIT_RETENTION_DAYS` are pruned. `since` is inclusive, `until` exclusive.
         */
        get: operations["listAuditEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * AcceptInvitationRequest
         * @example {
         *       "token": "SW52aXRhdGlvbi10b2tlbi1mcm9tLXRoZS1lbWFpbC0xMjM0",
         *       "password": "a long passphrase of mine"
         *     }
         */
        AcceptInvitationRequest: {
            token: string;
            password: string;
        };
        /**
         * AddDomainRequest
         * @example {
         *       "domain": "shop.acme.io"
         *     }
         */
        AddDomainRequest: {
            /** @description e.g. `shop.acme.io` */
            domain: string;
        };
        /**
         * AuditEvent
         * @description One security-relevant event
         * @example {
         *       "id": 311,
         *       "at": "2026-03-02T10:04:12.000Z",
         *       "action": "user.role.changed",
         *       "actor": {
         *         "plane": "tenant",
         *         "user_id": 1
         *       },
         *       "target": {
         *         "type": "user",
         *         "id": 12
         *       },
         *       "request_id": "6f1c1f7e-2a4b-4f3e-9f51-0c8e3b7d2a10",
         *       "ip": "203.0.113.7",
         *       "detail": {
         *         "from": "member",
         *         "to": "admin"
         *       }
         *     }
         */
        AuditEvent: {
            id: number;
            /** Format: date-time */
            at: string;
            /** @description One of the actions listed for the `action` filter */
            action: string;
            /** @description Who did it (a core or a tenant user); null for an operator or the system */
            actor: {
                /** @enum {string} */
                plane: "core" | "tenant";
                user_id: number;
            } | null;
            /** @description What it was done to; null when nothing identifiable (a login with an unknown email) */
            target: {
                /** @description `user`, `account`, `organization` or `invitation` */
                type: string;
                id: number;
            } | null;
            /** @description The `X-Request-Id` of the request */
            request_id: string | null;
            /** @description The client address (per `TRUST_PROXY`) */
            ip: string | null;
            /** @description A small JSON object about the event (e.g. the reason of a failed login); never a secret */
            detail: {
                [key: string]: unknown;
            };
        };
        /**
         * AuditEventPage
         * @example {
         *       "items": [
         *         {
         *           "id": 312,
         *           "at": "2026-03-02T10:06:55.000Z",
         *           "action": "auth.login.failed",
         *           "actor": null,
         *           "target": {
         *             "type": "user",
         *             "id": 12
         *           },
         *           "request_id": "b0d3e1c4-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
         *           "ip": "198.51.100.23",
         *           "detail": {
         *             "reason": "INVALID_CREDENTIALS"
         *           }
         *         }
         *       ],
         *       "next_cursor": "aWQ6MzEy"
         *     }
         */
        AuditEventPage: {
            items: components["schemas"]["AuditEvent"][];
            next_cursor: string | null;
        };
        /** CheckResult */
        CheckResult: {
            /** @enum {string} */
            status: "ok" | "failed";
            duration_ms: number;
            error?: string;
        };
        /**
         * CoreRegistration
         * @description A new core account; its verification link was emailed
         * @example {
         *       "user": {
         *         "id": 7,
         *         "email": "ada@example.com",
         *         "is_owner": true,
         *         "is_verified": false,
         *         "created_at": "2026-03-02T09:15:27.000Z"
         *       },
         *       "message": "Verification email sent"
         *     }
         */
        CoreRegistration: {
            user: components["schemas"]["CoreUser"];
            message: string;
        };
        /**
         * CoreUser
         * @description An account of the core (control plane)
         * @example {
         *       "id": 7,
         *       "email": "ada@example.com",
         *       "is_owner": true,
         *       "is_verified": true,
         *       "created_at": "2026-03-02T09:15:27.000Z"
         *     }
         */
        CoreUser: {
            id: number;
            /** @description Stored lower-case */
            email: string;
            /** @description May create organizations */
            is_owner: boolean;
            /** @description Confirmed through the emailed link; needed to log in */
            is_verified: boolean;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * CreateInvitationRequest
         * @example {
         *       "email": "linus@example.com",
         *       "role": "admin"
         *     }
         */
        CreateInvitationRequest: {
            /** @description Email (case-insensitive) */
            email: string;
            role: components["schemas"]["TenantRole"];
        };
        /**
         * CreateOrganizationRequest
         * @example {
         *       "name": "Acme Corp",
         *       "slug": "acme"
         *     }
         */
        CreateOrganizationRequest: {
            name: string;
            /** @description ^[a-z][a-z0-9-]{1,62}$; from the name if absent */
            slug?: string;
        };
        /**
         * EmailRequest
         * @example {
         *       "email": "ada@example.com"
         *     }
         */
        EmailRequest: {
            /** @description Email (case-insensitive) */
            email: string;
        };
        /**
         * Error
         * @description Every error answer
         * @example {
         *       "detail": "Organization not found",
         *       "code": "TENANT_NOT_FOUND"
         *     }
         */
        Error: {
            /** @description For people; may change */
            detail: string;
            code: components["schemas"]["ErrorCode"];
            /** @description Validation errors (422) only */
            errors?: components["schemas"]["ValidationIssue"][];
        };
        /**
         * @description Stable error codes (match on them; `detail` is for people):
         *
         *     - `BAD_REQUEST` (400): Malformed request
         *     - `INVALID_JSON` (400): Request body is not valid JSON
         *     - `TENANT_INVALID` (400): X-TENANT must be an organization id or slug
         *     - `TENANT_REQUIRED` (400): This route needs an X-TENANT header
         *     - `TENANT_NOT_ALLOWED` (400): This route does not take an X-TENANT header
         *     - `TENANT_CONFLICT` (400): X-TENANT names another organization than the host the request was sent to
         *     - `TOKEN_EXPIRED` (400): Token has expired
         *     - `NOT_AUTHENTICATED` (401): Not authenticated
         *     - `TOKEN_INVALID` (401): Could not validate credentials
         *     - `INVALID_CREDENTIALS` (401): Incorrect email or password
         *     - `REFRESH_TOKEN_INVALID` (401): Invalid or expired refresh token
         *     - `FORBIDDEN` (403): Not allowed
         *     - `EMAIL_NOT_VERIFIED` (403): Email not verified
         *     - `NOT_OWNER` (403): Only owners can create organizations
         *     - `TENANT_SUSPENDED` (403): Organization is suspended
         *     - `SIGNUP_DISABLED` (403): Sign-up is disabled for this organization
         *     - `USER_INACTIVE` (403): User is inactive
         *     - `QUOTA_EXCEEDED` (403): Organization quota reached: delete one to create another
         *     - `NOT_FOUND` (404): Not found
         *     - `ROUTE_NOT_FOUND` (404): Route not found
         *     - `TENANT_NOT_FOUND` (404): Organization not found
         *     - `METHOD_NOT_ALLOWED` (405): Method not allowed
         *     - `REQUEST_TIMEOUT` (408): The request was not received in time
         *     - `CONFLICT` (409): Conflict
         *     - `EMAIL_TAKEN` (409): Email already registered
         *     - `SLUG_TAKEN` (409): Slug already taken
         *     - `DOMAIN_TAKEN` (409): Domain already attached to an organization
         *     - `LAST_OWNER` (409): The last owner cannot be demoted, deactivated or deleted
         *     - `OWNER_PROTECTED` (409): The organization's owner cannot be demoted, deactivated or deleted inside the tenant
         *     - `ALREADY_MEMBER` (409): A user with this email already belongs to this organization
         *     - `INVITATION_NOT_PENDING` (409): The invitation is no longer pending
         *     - `PAYLOAD_TOO_LARGE` (413): Request body is too large
         *     - `UNSUPPORTED_MEDIA_TYPE` (415): Unsupported content type
         *     - `VALIDATION_ERROR` (422): Request validation failed
         *     - `HEADERS_TOO_LARGE` (431): Request headers are too large
         *     - `RATE_LIMITED` (429): Too many requests
         *     - `INTERNAL_ERROR` (500): Internal server error
         *     - `PROVISIONING_FAILED` (503): Tenant database could not be provisioned
         *     - `SERVICE_UNAVAILABLE` (503): A dependency is unavailable, try again shortly
         *     - `TENANT_NOT_READY` (503): Organization is still being provisioned
         * @enum {string}
         */
        ErrorCode: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_INVALID" | "TENANT_REQUIRED" | "TENANT_NOT_ALLOWED" | "TENANT_CONFLICT" | "TOKEN_EXPIRED" | "NOT_AUTHENTICATED" | "TOKEN_INVALID" | "INVALID_CREDENTIALS" | "REFRESH_TOKEN_INVALID" | "FORBIDDEN" | "EMAIL_NOT_VERIFIED" | "NOT_OWNER" | "TENANT_SUSPENDED" | "SIGNUP_DISABLED" | "USER_INACTIVE" | "QUOTA_EXCEEDED" | "NOT_FOUND" | "ROUTE_NOT_FOUND" | "TENANT_NOT_FOUND" | "METHOD_NOT_ALLOWED" | "REQUEST_TIMEOUT" | "CONFLICT" | "EMAIL_TAKEN" | "SLUG_TAKEN" | "DOMAIN_TAKEN" | "LAST_OWNER" | "OWNER_PROTECTED" | "ALREADY_MEMBER" | "INVITATION_NOT_PENDING" | "PAYLOAD_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE" | "VALIDATION_ERROR" | "HEADERS_TOO_LARGE" | "RATE_LIMITED" | "INTERNAL_ERROR" | "PROVISIONING_FAILED" | "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
        /**
         * Health
         * @example {
         *       "status": "healthy"
         *     }
         */
        Health: {
            /** @enum {string} */
            status: "healthy";
        };
        /**
         * Invitation
         * @description An invitation into the organization; its token is only ever emailed
         * @example {
         *       "id": 3,
         *       "email": "linus@example.com",
         *       "role": "admin",
         *       "status": "pending",
         *       "invited_by": 1,
         *       "expires_at": "2026-03-03T11:00:00.000Z",
         *       "created_at": "2026-03-02T11:00:00.000Z"
         *     }
         */
        Invitation: {
            id: number;
            /** @description Stored lower-case */
            email: string;
            role: components["schemas"]["TenantRole"];
            status: components["schemas"]["InvitationStatus"];
            /** @description The tenant user who sent it (null once that user is deleted) */
            invited_by: number | null;
            /** Format: date-time */
            expires_at: string;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * InvitationLookup
         * @description What the invitation is for, shown before accepting
         * @example {
         *       "organization": {
         *         "name": "Acme Corp",
         *         "slug": "acme"
         *       },
         *       "email": "linus@example.com",
         *       "role": "admin",
         *       "expires_at": "2026-03-03T11:00:00.000Z"
         *     }
         */
        InvitationLookup: {
            organization: {
                name: string;
                slug: string;
            };
            /** @description The invited address (the user to be created) */
            email: string;
            role: components["schemas"]["TenantRole"];
            /** Format: date-time */
            expires_at: string;
        };
        /**
         * InvitationPage
         * @example {
         *       "items": [
         *         {
         *           "id": 3,
         *           "email": "linus@example.com",
         *           "role": "admin",
         *           "status": "pending",
         *           "invited_by": 1,
         *           "expires_at": "2026-03-03T11:00:00.000Z",
         *           "created_at": "2026-03-02T11:00:00.000Z"
         *         }
         *       ],
         *       "next_cursor": null
         *     }
         */
        InvitationPage: {
            items: components["schemas"]["Invitation"][];
            next_cursor: string | null;
        };
        /**
         * InvitationStatus
         * @description `expired`: still pending, but past `expires_at`
         * @enum {string}
         */
        InvitationStatus: "pending" | "accepted" | "revoked" | "expired";
        /**
         * LoginRequest
         * @example {
         *       "email": "ada@example.com",
         *       "password": "correct horse battery staple"
         *     }
         */
        LoginRequest: {
            /** @description Email (case-insensitive) */
            email?: string;
            /** @description The email, in the form flow */
            username?: string;
            password: string;
        };
        /**
         * Message
         * @example {
         *       "message": "Email verified successfully"
         *     }
         */
        Message: {
            message: string;
        };
        /**
         * Organization
         * @example {
         *       "id": 42,
         *       "organization_id": 42,
         *       "name": "Acme Corp",
         *       "slug": "acme",
         *       "status": "active",
         *       "placement": "dedicated",
         *       "tenant_db_name": "tenantry_tenant_42",
         *       "owner_id": 7,
         *       "allow_signup": true,
         *       "created_at": "2026-03-02T09:20:03.000Z"
         *     }
         */
        Organization: {
            id: number;
            /** @description Equals id (an alias) */
            organization_id: number;
            name: string;
            slug: string;
            /** @enum {string} */
            status: "provisioning" | "active" | "suspended" | "deleting" | "failed";
            /**
             * @description dedicated: a database of its own; shared: a schema in a shared database (chosen by the server)
             * @enum {string}
             */
            placement: "dedicated" | "shared";
            tenant_db_name: string | null;
            owner_id: number;
            allow_signup: boolean;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * OrganizationDomain
         * @description A custom domain: a request whose host is this domain runs in the organization's tenant
         * @example {
         *       "domain": "shop.acme.io",
         *       "created_at": "2026-03-02T09:31:12.000Z"
         *     }
         */
        OrganizationDomain: {
            /** @description Lower case, as requests name it in `Host` */
            domain: string;
            /** Format: date-time */
            created_at: string;
        };
        /**
         * OrganizationDomainPage
         * @example {
         *       "items": [
         *         {
         *           "domain": "shop.acme.io",
         *           "created_at": "2026-03-02T09:31:12.000Z"
         *         }
         *       ],
         *       "next_cursor": null
         *     }
         */
        OrganizationDomainPage: {
            items: components["schemas"]["OrganizationDomain"][];
            /**
             * @description Always one page
             * @enum {object|null}
             */
            next_cursor: never | null;
        };
        /** OrganizationPage */
        OrganizationPage: {
            items: components["schemas"]["Organization"][];
            next_cursor: string | null;
        };
        /**
         * PasswordResetConfirmRequest
         * @example {
         *       "token": "UmVzZXQtdG9rZW4tZnJvbS10aGUtZW1haWwtMTIzNDU2",
         *       "password": "a new long passphrase"
         *     }
         */
        PasswordResetConfirmRequest: {
            token: string;
            password: string;
        };
        /**
         * Readiness
         * @example {
         *       "status": "ready",
         *       "checks": {
         *         "core_database": {
         *           "status": "ok",
         *           "duration_ms": 2
         *         }
         *       }
         *     }
         */
        Readiness: {
            /** @enum {string} */
            status: "ready" | "unavailable";
            /** @description By check name: `core_database` */
            checks: {
                [key: string]: components["schemas"]["CheckResult"];
            };
        };
        /**
         * RefreshTokenRequest
         * @example {
         *       "refresh_token": "kq3Vd8mZfO1tq2m6l9QmQy3bV1dU3e8gT0pY4cR7wHs"
         *     }
         */
        RefreshTokenRequest: {
            refresh_token: string;
        };
        /**
         * RegisterRequest
         * @example {
         *       "email": "ada@example.com",
         *       "password": "correct horse battery staple",
         *       "is_owner": true
         *     }
         */
        RegisterRequest: {
            /** @description Email (case-insensitive) */
            email: string;
            password: string;
            /** @description Core only: the account may create organizations (default false) */
            is_owner?: boolean;
        };
        /**
         * ServiceInfo
         * @example {
         *       "name": "Tenantry",
         *       "version": "0.1.0",
         *       "docs": "/docs"
         *     }
         */
        ServiceInfo: {
            name: string;
            version: string;
            /** @description Path of Swagger UI */
            docs: string;
        };
        /**
         * TenantRole
         * @enum {string}
         */
        TenantRole: "owner" | "admin" | "member";
        /**
         * TenantUser
         * @description A user inside one organization's database
         * @example {
         *       "id": 12,
         *       "email": "grace@example.com",
         *       "role": "member",
         *       "is_active": true,
         *       "created_at": "2026-03-02T10:01:44.000Z"
         *     }
         */
        TenantUser: {
            id: number;
            /** @description Stored lower-case; unique within the tenant */
            email: string;
            role: components["schemas"]["TenantRole"];
            /** @description An inactive user cannot log in or use its tokens */
            is_active: boolean;
            /** Format: date-time */
            created_at: string;
        };
        /** TenantUserPage */
        TenantUserPage: {
            items: components["schemas"]["TenantUser"][];
            next_cursor: string | null;
        };
        /**
         * TokenResponse
         * @example {
         *       "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ0ZW5hbnRyeSIsImF1ZCI6ImNvcmUiLCJzdWIiOiI3In0.sVJ2Q0nq0oRZ4cGQhTQ6X2w0Nf0xq4O7o6v0ZqBqk1E",
         *       "token_type": "bearer",
         *       "expires_in": 1800,
         *       "refresh_token": "kq3Vd8mZfO1tq2m6l9QmQy3bV1dU3e8gT0pY4cR7wHs"
         *     }
         */
        TokenResponse: {
            /** @description JWT; send it as `Authorization: Bearer <access_token>` */
            access_token: string;
            /** @enum {string} */
            token_type: "bearer";
            /** @description Seconds until the access token expires */
            expires_in: number;
            /** @description Opaque, single use: `POST /api/auth/refresh` rotates it */
            refresh_token: string;
        };
        /**
         * UpdateMeRequest
         * @description Core: `password` and `current_password` only
         * @example {
         *       "password": "a new long passphrase",
         *       "current_password": "correct horse battery staple"
         *     }
         */
        UpdateMeRequest: {
            /** @description Email (case-insensitive) */
            email?: string;
            password?: string;
            current_password?: string;
        };
        /**
         * UpdateOrganizationRequest
         * @example {
         *       "allow_signup": false
         *     }
         */
        UpdateOrganizationRequest: {
            name?: string;
            allow_signup?: boolean;
        };
        /**
         * UpdateTenantUserRequest
         * @example {
         *       "role": "admin"
         *     }
         */
        UpdateTenantUserRequest: {
            role?: components["schemas"]["TenantRole"];
            is_active?: boolean;
        };
        /** ValidationIssue */
        ValidationIssue: {
            path: string;
            message: string;
        };
        /**
         * VerifyEmailRequest
         * @example {
         *       "token": "Qm9vdHN0cmFwLXZlcmlmaWNhdGlvbi10b2tlbi0xMjM0"
         *     }
         */
        VerifyEmailRequest: {
            token: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getServiceInfo: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ServiceInfo"];
                };
            };
        };
    };
    getHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready: the core database answers */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            /** @description Not ready: a check failed (`Retry-After`) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
    register: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; absent for the core context */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RegisterRequest"];
            };
        };
        responses: {
            /** @description Core: the new account (a verification link was emailed). Tenant: the new member. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CoreRegistration"] | components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SIGNUP_DISABLED" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "EMAIL_TAKEN";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    verifyEmailByLink: {
        parameters: {
            query: {
                token: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Verified now, or already verified before */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Message"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_NOT_ALLOWED" | "TOKEN_EXPIRED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TOKEN_INVALID";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    verifyEmail: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["VerifyEmailRequest"];
            };
        };
        responses: {
            /** @description Verified now, or already verified before */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Message"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED" | "TOKEN_EXPIRED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TOKEN_INVALID";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    resendVerification: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EmailRequest"];
            };
        };
        responses: {
            /** @description Accepted: recorded, handled in the background */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Message"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    login: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; absent for the core context */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
                "application/x-www-form-urlencoded": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description Tokens for the plane of the request (core, or the tenant of `X-TENANT`) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponse"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "INVALID_CREDENTIALS";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "EMAIL_NOT_VERIFIED" | "TENANT_SUSPENDED" | "USER_INACTIVE";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    refreshTokens: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; absent for the core context */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshTokenRequest"];
            };
        };
        responses: {
            /** @description New tokens; the refresh token sent is used up */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponse"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "REFRESH_TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    logout: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; absent for the core context */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshTokenRequest"];
            };
        };
        responses: {
            /** @description Done; no content */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    requestPasswordReset: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EmailRequest"];
            };
        };
        responses: {
            /** @description Accepted: recorded, handled in the background */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Message"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    confirmPasswordReset: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PasswordResetConfirmRequest"];
            };
        };
        responses: {
            /** @description Done; no content */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED" | "TOKEN_EXPIRED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TOKEN_INVALID";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    getMe: {
        parameters: {
            query?: never;
            header?: {
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CoreUser"] | components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    replaceMe: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        /** @description Core: `password` and `current_password` only */
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateMeRequest"];
            };
        };
        responses: {
            /** @description A user inside one organization's database */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "INVALID_CREDENTIALS" | "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "EMAIL_TAKEN";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    updateMe: {
        parameters: {
            query?: never;
            header?: {
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        /** @description Core: `password` and `current_password` only */
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateMeRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CoreUser"] | components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "INVALID_CREDENTIALS" | "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "EMAIL_TAKEN";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    listUsers: {
        parameters: {
            query?: {
                limit?: number;
                /** @description Opaque; from the previous page */
                cursor?: string;
                /** @description Only users whose email contains this */
                q?: string;
            };
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TenantUserPage"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    getUser: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A user inside one organization's database */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND" | "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    deleteUser: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no content */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND" | "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "LAST_OWNER" | "OWNER_PROTECTED";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    updateUser: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateTenantUserRequest"];
            };
        };
        responses: {
            /** @description A user inside one organization's database */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND" | "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "LAST_OWNER" | "OWNER_PROTECTED";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    listOrganizations: {
        parameters: {
            query?: {
                limit?: number;
                /** @description Opaque; from the previous page */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrganizationPage"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    createOrganization: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateOrganizationRequest"];
            };
        };
        responses: {
            /** @description Created, its tenant database migrated and holding the owner */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Organization"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "EMAIL_NOT_VERIFIED" | "NOT_OWNER" | "QUOTA_EXCEEDED";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "CONFLICT" | "SLUG_TAKEN";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PROVISIONING_FAILED" | "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    getOrganization: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Organization"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    deleteOrganization: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no content */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    updateOrganization: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateOrganizationRequest"];
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Organization"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    exchangeOwnerToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A tenant token for the owner's user inside the organization (role `owner`) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponse"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    listOrganizationDomains: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrganizationDomainPage"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    addOrganizationDomain: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AddDomainRequest"];
            };
        };
        responses: {
            /** @description A custom domain: a request whose host is this domain runs in the organization's tenant */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OrganizationDomain"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "QUOTA_EXCEEDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "DOMAIN_TAKEN";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    removeOrganizationDomain: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: number;
                /** @description The domain (any case) */
                domain: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no content */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_NOT_ALLOWED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE";
                    };
                };
            };
        };
    };
    listInvitations: {
        parameters: {
            query?: {
                limit?: number;
                /** @description Opaque; from the previous page */
                cursor?: string;
                /** @description Which invitations (default: pending) */
                status?: "pending" | "accepted" | "revoked" | "expired";
            };
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["InvitationPage"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    createInvitation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateInvitationRequest"];
            };
        };
        responses: {
            /** @description Invited: the link was emailed (never returned) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Invitation"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "ALREADY_MEMBER" | "CONFLICT";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    lookupInvitation: {
        parameters: {
            query: {
                token: string;
            };
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The invitation can be accepted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["InvitationLookup"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED" | "TOKEN_EXPIRED";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    acceptInvitation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AcceptInvitationRequest"];
            };
        };
        responses: {
            /** @description The new tenant user, with the invited role */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TenantUser"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED" | "TOKEN_EXPIRED";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "ALREADY_MEMBER";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    revokeInvitation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Revoked (or already revoked): its link no longer works */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND" | "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "INVITATION_NOT_PENDING";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    resendInvitation: {
        parameters: {
            query?: never;
            header?: {
                /** @description Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED) */
                "x-tenant"?: string;
            };
            path: {
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Emailed again with a new link and expiry; the previous link no longer works */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Invitation"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "INVALID_JSON" | "TENANT_CONFLICT" | "TENANT_INVALID" | "TENANT_REQUIRED";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_FOUND" | "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description Conflict with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "INVITATION_NOT_PENDING";
                    };
                };
            };
            /** @description Request body larger than `BODY_LIMIT` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "PAYLOAD_TOO_LARGE";
                    };
                };
            };
            /** @description Content type other than JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "UNSUPPORTED_MEDIA_TYPE";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
    listAuditEvents: {
        parameters: {
            query?: {
                limit?: number;
                /** @description Opaque; from the previous page */
                cursor?: string;
                /** @description Only this action (tenant actions in a tenant, core actions in the core; else 422) */
                action?: "auth.login.succeeded" | "auth.login.failed" | "auth.logout" | "auth.refresh.reuse_detected" | "user.password.changed" | "user.password.reset" | "user.role.changed" | "user.status.changed" | "user.deleted" | "invitation.sent" | "invitation.accepted" | "invitation.revoked" | "owner.token_exchanged" | "organization.created" | "organization.updated" | "organization.suspended" | "organization.resumed" | "organization.deleted" | "organization.moved" | "organization.domain.added" | "organization.domain.removed" | "account.registered" | "account.verified" | "account.login.succeeded" | "account.login.failed" | "account.password.changed";
                /** @description Only this actor's events */
                actor_id?: number;
                /** @description Events at or after */
                since?: string;
                /** @description Events before */
                until?: string;
            };
            header?: {
                "x-tenant"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditEventPage"];
                };
            };
            /** @description Bad request: a malformed header, URL or JSON body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "BAD_REQUEST" | "TENANT_CONFLICT" | "TENANT_INVALID";
                    };
                };
            };
            /** @description Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "NOT_AUTHENTICATED" | "TOKEN_INVALID";
                    };
                };
            };
            /** @description Not allowed (for this caller, or in this state) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "FORBIDDEN" | "TENANT_SUSPENDED";
                    };
                };
            };
            /** @description Not found (also for what the caller may not see) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "TENANT_NOT_FOUND";
                    };
                };
            };
            /** @description The request does not match the schema; `errors` says where */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "VALIDATION_ERROR";
                    };
                };
            };
            /** @description Rate limited; `Retry-After` says when to try again */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "RATE_LIMITED";
                    };
                };
            };
            /** @description A dependency (a database) is unavailable, or the organization is still being provisioned; see `Retry-After` */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        /** @enum {string} */
                        code?: "SERVICE_UNAVAILABLE" | "TENANT_NOT_READY";
                    };
                };
            };
        };
    };
}
