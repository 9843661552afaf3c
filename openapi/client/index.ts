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
 * and `network_error` when wx.request itself fails). Only wx's methods are used (no PATCH: partial updates are
 * PUT); ids are the strings the answers carry. Every problem has a `userMessage` to show (the client writes one for
 * `network_error` and for answers that are not problem+json). At most 10 calls are in flight, as wx allows: more wait.
 *
 * Sessions: the access token goes in as a bearer token; on a 401 the client refreshes the session once (one
 * refresh at a time: a refresh token works only once) and repeats the call. When the refresh token is spent,
 * or the server answers `wechat_session_stale`, it logs in again silently with wx.login (no user action) and
 * repeats the call once; only when that fails too are the tokens dropped and `onSessionEnded` called.
 * Retries: a 429 or 503 with `Retry-After` (up to `maxRetryWaitMs`) is sent again after that wait. Every POST
 * carries an `Idempotency-Key` (yours, or one made per call) that its retries reuse, so a payment or a join
 * repeated after a lost answer happens once. `pay(order)` and `upload(filePath)` wrap wx.requestPayment and
 * wx.uploadFile; an upload keeps the session, waits out a short Retry-After and carries an Idempotency-Key as
 * every POST does (wx.uploadFile gives no headers: the problem's `retryAfter`). `live({onEvent, onState})` keeps
 * the live-update socket open (./live.ts, docs/live.md). `dev: {sandboxUrl, user}` is WeChat DevTools mode
 * against `make run` (docs/devtools.md): the login code and the payment come from the WeChat sandbox.
 */
import type { components, paths } from "../types";
import { openLive, type LiveHandle, type LiveOptions } from "./live";

export type { LiveHandle, LiveMessage, LiveOptions, LiveState } from "./live";

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
  /** For people, as every problem has: show it. `detail` is wx's errMsg, for programs. */
  userMessage: string;
  action: "retry";
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
  /** The session could not be renewed, not even by a silent wx.login: show the login page. */
  onSessionEnded?: (problem: Problem | NetworkProblem) => void;
  /** A fresh login code; default wx.login (or the sandbox in dev mode). */
  loginCode?: () => Promise<string>;
  /** WeChat DevTools against `make run`: login codes and payments come from the WeChat sandbox. */
  dev?: { sandboxUrl: string; user: string };
  /** wx.request, or a stand-in with its signature (tests, other platforms). */
  request?: typeof wx.request;
  timeoutMs?: number;
  /** The longest Retry-After the client waits for before sending again (longer: the 429/503 is answered). */
  maxRetryWaitMs?: number;
}

/** An order as the API answers it (`order.payment` goes to wx.requestPayment as is). */
export type Order = components["schemas"]["Order"];
const FINAL_ORDER = new Set(["paid", "refunded", "closed"]);

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
  retryAfter?: number;
}

/** An answer that is not the API's problem+json (a proxy's error page, an empty body): its code and text by
 * status, the API's own (service/messages.py), so a page can always show `problem.userMessage`. */
function stranger(status: number, body: unknown): UniversalProblem {
  const [code, userMessage, action]: [UniversalProblem["code"], string, string] =
    status === 413
      ? ["payload_too_large", "内容太大了，请精简后再试。", "fix"]
      : status >= 500 || status < 400
        ? ["internal_error", "服务开小差了，请稍后再试。", "retry"]
        : ["bad_request", "请求格式不正确，请稍后重试。", "fix"];
  const detail = typeof body === "string" ? body.slice(0, 200) : undefined;
  return { type: "about:blank", title: `HTTP ${status}`, status, code, userMessage, action, detail };
}

/** wx allows 10 wx.request and 10 wx.uploadFile in flight per mini program and fails the 11th ("exceed max task
 * count"): calls past that wait here for a free slot instead. */
function slots(max: number) {
  let free = max;
  const waiting: Array<() => void> = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (free > 0) free -= 1;
    else await new Promise<void>((resolve) => waiting.push(resolve)); // a finished call hands its slot over
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free += 1;
    }
  };
}
const requestSlot = slots(10);
const uploadSlot = slots(10);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newKey = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
/** Routes of the session itself: never refreshed or re-logged around. */
const SESSION_ROUTES = ["/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout"];

type LoginAnswer = Operation<"/v1/auth/login", "post">;
type RefreshAnswer = Operation<"/v1/auth/refresh", "post">;

export function createClient(options: ClientOptions) {
  const tokens = options.tokens ?? storageTokens();
  const send = options.request ?? wx.request;
  let refreshing: Promise<boolean> | null = null;
  let relogging: Promise<boolean> | null = null;

  function url(path: string, params?: Record<string, unknown>, query?: Record<string, unknown>): string {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params?.[name])));
    const pairs = Object.entries(query ?? {})
      .filter(([, value]) => value !== undefined && value !== null)
      .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => [name, String(v)]))
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
    return options.baseUrl.replace(/\/$/, "") + filled + (pairs.length ? `?${pairs.join("&")}` : "");
  }

  /** What came back: a JSON body parsed (problem+json too), other text as is. wx.uploadFile hands back no
   * headers: there a problem's `retryAfter` says what the Retry-After header would. */
  function answered(status: number, text: string, headers: Record<string, string | undefined> = {}): RawAnswer {
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const requestId = headers["x-request-id"] ?? headers["X-Request-Id"];
    const said = headers["retry-after"] ?? headers["Retry-After"] ?? (body as Partial<Problem> | undefined)?.retryAfter;
    return { status, body, requestId, retryAfter: Number(said ?? NaN) };
  }

  function unanswered(err: { errMsg: string }): RawAnswer {
    return {
      status: 0,
      body: {
        type: "about:blank",
        title: "No answer",
        status: 0,
        code: "network_error",
        userMessage: "网络不给力，请检查网络后重试。",
        action: "retry",
        detail: err.errMsg,
      } satisfies NetworkProblem,
    };
  }

  function exchange(method: Method, target: string, body: unknown, header: Record<string, string>): Promise<RawAnswer> {
    return requestSlot(() => new Promise<RawAnswer>((resolve) => {
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
          resolve(answered(res.statusCode, text, res.header as Record<string, string | undefined>));
        },
        fail: (err) => resolve(unanswered(err)),
      });
    }));
  }

  function result<O>(answer: RawAnswer): Result<O> {
    if (answer.status >= 200 && answer.status < 300) {
      return { ok: true, status: answer.status, data: answer.body as Success<O>, requestId: answer.requestId };
    }
    const body = answer.body as Partial<Problem> | undefined;
    const own = typeof body === "object" && body !== null && typeof body.code === "string";
    type Any = Failure<O> | UniversalProblem | NetworkProblem;
    const problem = (own ? body : stranger(answer.status, answer.body)) as Any;
    return { ok: false, status: answer.status, problem, requestId: answer.requestId };
  }

  function authorised(header: Record<string, string>, session: Session | null): Record<string, string> {
    return session ? { ...header, authorization: `Bearer ${session.accessToken}` } : header;
  }

  function wxCall<T>(api: "login" | "requestPayment", args: Record<string, unknown> = {}): Promise<T> {
    return new Promise((resolve, reject) => (wx[api] as Function)({ ...args, success: resolve, fail: reject }));
  }

  /** Ask the WeChat sandbox (dev mode only). */
  async function sandbox<T>(path: string, body: unknown): Promise<T> {
    const answer = await exchange("post", options.dev!.sandboxUrl.replace(/\/$/, "") + path, body, {});
    if (answer.status >= 300) throw new Error(`sandbox ${path}: ${answer.status}`);
    return answer.body as T;
  }

  const loginCode =
    options.loginCode ??
    (options.dev
      ? async () => (await sandbox<{ code: string }>("/sandbox/wx-login", { user: options.dev!.user })).code
      : async () => (await wxCall<{ code: string }>("login")).code);

  async function login(code: string): Promise<Result<LoginAnswer>> {
    const answer = result<LoginAnswer>(await exchange("post", url("/v1/auth/login"), { code }, {}));
    if (answer.ok) tokens.set({ accessToken: answer.data.accessToken, refreshToken: answer.data.refreshToken });
    return answer;
  }

  /** A new session without the user: wx.login needs no tap. Shared by concurrent callers. */
  function renew(why: RawAnswer): Promise<boolean> {
    relogging ??= (async () => {
      const answer = await loginCode().then(login, () => null);
      if (answer?.ok) return true;
      tokens.set(null);
      options.onSessionEnded?.((answer && !answer.ok ? answer.problem : why.body) as Problem);
      return false;
    })().finally(() => (relogging = null));
    return relogging;
  }

  /** Exchange the refresh token once; concurrent callers share the one exchange. */
  function refresh(first: RawAnswer): Promise<boolean> {
    refreshing ??= (async () => {
      const session = tokens.get();
      if (!session) return renew(first);
      const answer = await exchange("post", url("/v1/auth/refresh"), { refreshToken: session.refreshToken }, {});
      if (answer.status === 200) {
        const data = answer.body as Success<RefreshAnswer>;
        tokens.set({ accessToken: data.accessToken, refreshToken: data.refreshToken });
        return true;
      }
      // The refresh token is spent, expired or revoked: log in again. A network failure or 503 keeps the
      // session: the next call tries again.
      return answer.status === 401 ? renew(answer) : false;
    })().finally(() => (refreshing = null));
    return refreshing;
  }

  /** Send with the session's token; once more after a short Retry-After. */
  async function patiently(attempt: (header: Record<string, string>) => Promise<RawAnswer>, session: Session | null) {
    const header = authorised({}, session);
    const answer = await attempt(header);
    const wait = (answer.retryAfter ?? NaN) * 1000;
    if ((answer.status !== 429 && answer.status !== 503) || !(wait <= (options.maxRetryWaitMs ?? 5000))) return answer;
    await sleep(wait);
    return attempt(header);
  }

  /** One call in the session, whatever sends it (wx.request, wx.uploadFile): `attempt` gets the authorization
   * header to add. On a 401 the session is refreshed once, on wechat_session_stale logged in again, and the call
   * repeated; a short Retry-After is waited out each time. `renewable` false: a call of the session itself. */
  async function inSession(attempt: (header: Record<string, string>) => Promise<RawAnswer>, renewable = true) {
    const sentWith = tokens.get();
    const first = await patiently(attempt, sentWith);
    if (!sentWith || !renewable) return first;
    const stale = (first.body as Problem | undefined)?.code === "wechat_session_stale";
    if (first.status !== 401 && !stale) return first;
    // Another call may have renewed the session meanwhile: then only repeat with the new token.
    const current = tokens.get();
    const moved = current && current.accessToken !== sentWith.accessToken;
    const renewed = moved || (await (stale ? renew(first) : refresh(first)));
    if (!renewed) return first;
    return patiently(attempt, tokens.get());
  }

  async function request<M extends Method, P extends PathsFor<M>>(
    method: M,
    path: P,
    ...args: OptionsArg<Operation<P, M>>
  ): Promise<Result<Operation<P, M>>> {
    // Typed at the call site; plain data from here on.
    const o: LooseOptions = (args as unknown as [LooseOptions?])[0] ?? {};
    const header: Record<string, string> = { ...o.header };
    // One key for this call and all its repeats: the server does a money or membership POST once.
    if (method === "post") header["idempotency-key"] = o.idempotencyKey ?? newKey();
    const target = url(path, o.path, o.query);
    const attempt = (auth: Record<string, string>) => exchange(method, target, o.body, { ...header, ...auth });
    return result(await inSession(attempt, !SESSION_ROUTES.includes(path)));
  }

  /** Pay an order (`order.payment` as is), then follow it until the API says how it ended. */
  async function pay(order: Order, follow = { tries: 10, everyMs: 500 }) {
    const payment = order.payment;
    if (payment) {
      try {
        if (options.dev) await sandbox("/sandbox/pay", { prepayId: payment.package.replace(/^prepay_id=/, "") });
        else await wxCall("requestPayment", { ...payment });
      } catch (failure) {
        // Cancelled or failed in the payment sheet: the order stays payable; show it as it is.
      }
    }
    type ReadOrder = Operation<"/v1/orders/{order_id}", "get">;
    const read = () => request<"get", "/v1/orders/{order_id}">("get", "/v1/orders/{order_id}", { path: { order_id: order.id } } as RequestOptions<ReadOrder>);
    let latest = await read();
    for (let i = 1; i < follow.tries && latest.ok && !FINAL_ORDER.has((latest.data as Order).status); i++) {
      await sleep(follow.everyMs);
      latest = await read();
    }
    return latest;
  }

  /** Upload a photo from wx.chooseMedia through wx.uploadFile (its answer body is a string, parsed here), in the
   * session as every call: refreshed once on a 401 and repeated, a short Retry-After waited out. One
   * Idempotency-Key (yours, or one made per upload) goes with every repeat: the photo is stored once. */
  async function upload(
    filePath: string,
    purpose = "post",
    options: { idempotencyKey?: string } = {},
  ): Promise<{ ok: boolean; status: number; data: unknown }> {
    const key = options.idempotencyKey ?? newKey();
    const attempt = (header: Record<string, string>) =>
      uploadSlot(() => new Promise<RawAnswer>((resolve) =>
        wx.uploadFile({
          url: url("/v1/media"),
          filePath,
          name: "file",
          formData: { purpose },
          header: { "idempotency-key": key, ...header },
          success: (res) => resolve(answered(res.statusCode, res.data)),
          fail: (err) => resolve(unanswered(err)),
        }),
      ));
    const answer = result<Operation<"/v1/media", "post">>(await inSession(attempt));
    // A refusal's data is its problem, mapped as every call's (a proxy's 413 page for a large photo too).
    return { ok: answer.ok, status: answer.status, data: answer.ok ? answer.data : answer.problem };
  }

  // The client's one live socket (./live.ts): a second live() closes the first, and every socket opens only
  // after the client's previous one has ended.
  const lastSocket = { ended: Promise.resolve() as Promise<unknown> };
  let liveHandle: LiveHandle | null = null;
  function live(handlers: LiveOptions): LiveHandle {
    liveHandle?.close();
    liveHandle = openLive(
      {
        url: url("/v1/live").replace(/^http/, "ws"),
        session: () => tokens.get(),
        probe: () => request("get", "/v1/me"),
        problem: (errMsg) => unanswered({ errMsg }).body as NetworkProblem,
        last: lastSocket,
      },
      handlers,
    );
    return liveHandle;
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

    /** Log in with a login code (default: a fresh one from wx.login, or the sandbox in dev mode). */
    async login(code?: string): Promise<Result<LoginAnswer>> {
      return login(code ?? (await loginCode()));
    },
    pay,
    upload,
    live,

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
