/**
 * A typed `wx.request` for the community API, generated types in ../types.ts (`make openapi`).
 *
 *   const api = createClient({ baseUrl: "https://api.example.com" });
 *   await api.login((await wx.login()).code);
 *   const joined = await api.post("/v1/communities/{community_id}/join", { path: { community_id: 42 } });
 *   if (joined.ok) show(joined.data.outcome);
 *   else if (joined.problem.code === "community_full") toast("已满员");
 *
 * Every call answers a value, never throws: `{ok: true, data}` typed by the operation's success answers, or
 * `{ok: false, problem}` typed by the problem codes the operation declares (plus those any route may answer
 * and `network_error` when wx.request itself fails). The access token goes in as a bearer token; on a 401 the
 * client refreshes the session once (one refresh at a time: a refresh token works only once) and repeats the
 * call. When the refresh fails the session is over: the tokens are dropped and `onSessionEnded` runs.
 */
import type { components, paths } from "../types";

export type Method = "get" | "put" | "post" | "delete";
type Upper<M extends Method> = Uppercase<M> & WechatMiniprogram.RequestOption["method"];

/** The API's paths that answer `method`. */
export type PathsFor<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends undefined ? never : P;
}[keyof paths];
export type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** RFC 9457 problem+json as the API sends it; `code` is one of the registered codes (docs/errors.md). */
export type Problem = components["schemas"]["ProblemBody"];
export type ProblemCode = Problem["code"];
/** Problems any route may answer besides those it declares. */
export type UniversalProblem = Problem & {
  code: "bad_request" | "internal_error" | "method_not_allowed" | "payload_too_large" | "unsupported_media_type";
};
/** wx.request failed: no answer (offline, timeout, domain not allowed in the mini program's settings). */
export interface NetworkProblem {
  type: "about:blank";
  title: string;
  status: 0;
  code: "network_error";
  detail?: string;
}

type Responses<O> = O extends { responses: infer R } ? R : never;
type Content<R> = R extends { content: { "application/json": infer T } }
  ? T
  : R extends { content: { "application/problem+json": infer T } }
    ? T
    : undefined;
type SuccessStatus = 200 | 201 | 202 | 204;
export type Success<O> = {
  [S in keyof Responses<O>]: S extends SuccessStatus ? Content<Responses<O>[S]> : never;
}[keyof Responses<O>];
export type Failure<O> = {
  [S in keyof Responses<O>]: S extends SuccessStatus ? never : Content<Responses<O>[S]>;
}[keyof Responses<O>];

export type Result<O> =
  | { ok: true; status: number; data: Success<O>; requestId?: string }
  | { ok: false; status: number; problem: Failure<O> | UniversalProblem | NetworkProblem; requestId?: string };

type PathOption<O> = O extends { parameters: { path: infer X } } ? { path: X } : { path?: undefined };
type QueryOption<O> = O extends { parameters: { query: infer Q } }
  ? { query: Q }
  : O extends { parameters: { query?: infer Q } }
    ? { query?: Q }
    : { query?: undefined };
type BodyOption<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? null extends B
    ? { body?: B } // an optional body: send none
    : { body: B }
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? { body?: B }
    : { body?: undefined };
export type RequestOptions<O> = PathOption<O> &
  QueryOption<O> &
  BodyOption<O> & {
    /** Send with every POST that moves money or membership; repeat it on a retry of the same action. */
    idempotencyKey?: string;
    header?: Record<string, string>;
  };
/** Options may be left out when the operation needs none. */
type OptionsArg<O> = {} extends RequestOptions<O> ? [options?: RequestOptions<O>] : [options: RequestOptions<O>];

export interface Session {
  accessToken: string;
  refreshToken: string;
}
export interface TokenStore {
  get(): Session | null;
  set(session: Session | null): void;
}

/** Tokens kept in the mini program's storage, so a session survives a restart. */
export function storageTokens(key = "community-session"): TokenStore {
  return {
    get: () => (wx.getStorageSync(key) as Session | "") || null,
    set: (session) => (session ? wx.setStorageSync(key, session) : wx.removeStorageSync(key)),
  };
}

export function memoryTokens(initial: Session | null = null): TokenStore {
  let session = initial;
  return { get: () => session, set: (next) => void (session = next) };
}

export interface ClientOptions {
  baseUrl: string;
  tokens?: TokenStore;
  /** The session could not be refreshed: send the user through wx.login again. */
  onSessionEnded?: (problem: Problem | NetworkProblem) => void;
  /** wx.request, or a stand-in with its signature (tests, other platforms). */
  request?: typeof wx.request;
  timeoutMs?: number;
}

interface LooseOptions {
  path?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  idempotencyKey?: string;
  header?: Record<string, string>;
}

interface RawAnswer {
  status: number;
  body: unknown;
  requestId?: string;
}

type LoginAnswer = Operation<"/v1/auth/login", "post">;
type RefreshAnswer = Operation<"/v1/auth/refresh", "post">;

export function createClient(options: ClientOptions) {
  const tokens = options.tokens ?? storageTokens();
  const send = options.request ?? wx.request;
  let refreshing: Promise<boolean> | null = null;

  function url(path: string, params?: Record<string, unknown>, query?: Record<string, unknown>): string {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params?.[name])));
    const pairs = Object.entries(query ?? {})
      .filter(([, value]) => value !== undefined && value !== null)
      .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => [name, String(v)]))
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
    return options.baseUrl.replace(/\/$/, "") + filled + (pairs.length ? `?${pairs.join("&")}` : "");
  }

  function exchange(method: Method, target: string, body: unknown, header: Record<string, string>): Promise<RawAnswer> {
    return new Promise((resolve) => {
      send({
        url: target,
        method: method.toUpperCase() as Upper<typeof method>,
        data: body === undefined ? undefined : JSON.stringify(body),
        header: body === undefined ? header : { "content-type": "application/json", ...header },
        dataType: "其他", // WeChat's documented "other": hand back the text, parsed here (problem+json too)
        responseType: "text",
        timeout: options.timeoutMs ?? 15000,
        success: (res) => {
          const text = typeof res.data === "string" ? res.data : "";
          const requestId = (res.header as Record<string, string | undefined>)["x-request-id"] ??
            (res.header as Record<string, string | undefined>)["X-Request-Id"];
          let parsed: unknown = undefined;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode, body: parsed, requestId });
        },
        fail: (err) =>
          resolve({
            status: 0,
            body: { type: "about:blank", title: "No answer", status: 0, code: "network_error", detail: err.errMsg },
          }),
      });
    });
  }

  function result<O>(answer: RawAnswer): Result<O> {
    if (answer.status >= 200 && answer.status < 300) {
      return { ok: true, status: answer.status, data: answer.body as Success<O>, requestId: answer.requestId };
    }
    const problem = answer.body as Failure<O> | UniversalProblem | NetworkProblem;
    return { ok: false, status: answer.status, problem, requestId: answer.requestId };
  }

  function authorised(header: Record<string, string>, session: Session | null): Record<string, string> {
    return session ? { ...header, authorization: `Bearer ${session.accessToken}` } : header;
  }

  /** Exchange the refresh token once; concurrent callers share the one exchange. */
  function refresh(): Promise<boolean> {
    refreshing ??= (async () => {
      const session = tokens.get();
      if (!session) return false;
      const answer = await exchange("post", url("/v1/auth/refresh"), { refreshToken: session.refreshToken }, {});
      if (answer.status === 200) {
        const data = answer.body as Success<RefreshAnswer>;
        tokens.set({ accessToken: data.accessToken, refreshToken: data.refreshToken });
        return true;
      }
      if (answer.status === 401) {
        tokens.set(null); // the refresh token is spent, expired or revoked: this session is over
        options.onSessionEnded?.(answer.body as Problem);
      }
      return false; // a network failure or 503 keeps the session: the next call tries again
    })().finally(() => (refreshing = null));
    return refreshing;
  }

  async function request<M extends Method, P extends PathsFor<M>>(
    method: M,
    path: P,
    ...args: OptionsArg<Operation<P, M>>
  ): Promise<Result<Operation<P, M>>> {
    // Typed at the call site; plain data from here on.
    const o: LooseOptions = (args as unknown as [LooseOptions?])[0] ?? {};
    const header: Record<string, string> = { ...o.header };
    if (o.idempotencyKey) header["idempotency-key"] = o.idempotencyKey;
    const target = url(path, o.path, o.query);
    const sentWith = tokens.get();
    const first = await exchange(method, target, o.body, authorised(header, sentWith));
    if (first.status !== 401 || !sentWith || path.startsWith("/v1/auth/")) return result(first);
    // Another call may have refreshed meanwhile: then only repeat with the new token.
    const current = tokens.get();
    const renewed = current && current.accessToken !== sentWith.accessToken ? true : await refresh();
    if (!renewed) return result(first);
    return result(await exchange(method, target, o.body, authorised(header, tokens.get())));
  }

  return {
    request,
    get: <P extends PathsFor<"get">>(path: P, ...opts: OptionsArg<Operation<P, "get">>) =>
      request<"get", P>("get", path, ...opts),
    post: <P extends PathsFor<"post">>(path: P, ...opts: OptionsArg<Operation<P, "post">>) =>
      request<"post", P>("post", path, ...opts),
    put: <P extends PathsFor<"put">>(path: P, ...opts: OptionsArg<Operation<P, "put">>) =>
      request<"put", P>("put", path, ...opts),
    delete: <P extends PathsFor<"delete">>(path: P, ...opts: OptionsArg<Operation<P, "delete">>) =>
      request<"delete", P>("delete", path, ...opts),

    /** Log in with a wx.login code and keep the session. */
    async login(code: string): Promise<Result<LoginAnswer>> {
      const answer = result<LoginAnswer>(await exchange("post", url("/v1/auth/login"), { code }, {}));
      if (answer.ok) tokens.set({ accessToken: answer.data.accessToken, refreshToken: answer.data.refreshToken });
      return answer;
    },

    /** Revoke the session on the server and forget it here. */
    async logout(): Promise<void> {
      const session = tokens.get();
      tokens.set(null);
      if (session) await exchange("post", url("/v1/auth/logout"), { refreshToken: session.refreshToken }, {});
    },

    tokens,
  };
}

export type Client = ReturnType<typeof createClient>;
