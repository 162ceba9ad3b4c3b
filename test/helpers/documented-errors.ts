import type { FastifyInstance } from 'fastify';

/** One error answer the app gave: its route pattern, method, status and code. */
export interface ErrorAnswer {
  route: string;
  method: string;
  status: number;
  code: string;
}

type Json = Record<string, unknown>;
type Document = { paths: Record<string, Record<string, { responses?: Record<string, Json> }>> };

/**
 * Records every error answer of routes the request matched (call before `app.ready()`).
 *
 * @example
 * const answers = recordErrorAnswers(app); // … requests … then undocumentedAnswers(doc, answers)
 */
export function recordErrorAnswers(app: FastifyInstance): ErrorAnswer[] {
  const answers: ErrorAnswer[] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if (reply.statusCode >= 400 && typeof payload === 'string' && route?.startsWith('/api/')) {
      const { code } = JSON.parse(payload) as { code: string };
      answers.push({ route, method: request.method, status: reply.statusCode, code });
    }
    return payload;
  });
  return answers;
}

/** The codes the OpenAPI document lists for one answer of one operation (HEAD: its GET). */
export function documentedCodes(doc: Document, method: string, route: string, status: number): string[] {
  const operation =
    doc.paths[route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[
      (method === 'HEAD' ? 'GET' : method).toLowerCase()
    ];
  const schema = (operation?.responses?.[String(status)]?.content as Json | undefined)?.[
    'application/json'
  ] as { schema?: { allOf?: [Json, { properties: { code: { enum: string[] } } }] } } | undefined;
  return schema?.schema?.allOf?.[1].properties.code.enum ?? [];
}

/** The answers whose status, or code at that status, the document does not list for their route, counted. */
export function undocumentedAnswers(doc: Document, answers: ErrorAnswer[]): string[] {
  const counts = new Map<string, number>();
  for (const a of answers) {
    if (documentedCodes(doc, a.method, a.route, a.status).includes(a.code)) continue;
    const key = `${a.method} ${a.route} ${a.status} ${a.code}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key} (×${n})`).sort();
}
