/**
 * Live updates (docs/live.md): one wx.connectSocket to GET /v1/live, kept open for the app. From the client:
 *
 *   const live = api.live({ onEvent, onState }); // App.onLaunch: opens at once
 *   live.show();                                 // App.onShow
 *   live.view(communityId);                      // a community page shows (null when it hides)
 *   live.close();                                // for good (logout): no reconnect
 *
 * - The socket opens with the session's access token (`Authorization: Bearer`), read afresh for every socket.
 * - `ping` is answered here; every other message goes to onEvent, and so does a `resync` of the helper's own when
 *   events may have been missed: on every socket after the first (a reconnect), and on show() with the socket
 *   open (back from the background). On `resync`, catch up with the feed's and the inbox's `since`.
 * - The community in view is sent again on every new socket (presence and online counts follow the socket).
 * - A lost socket is reopened once, after a backoff with jitter (between half and all of 1 s, doubling up to
 *   30 s; `ready` resets it). A refused handshake or 4401 (the token expired, or the account was deleted) first
 *   makes one call in the session, which renews it on a 401 as every call does; when the session has ended
 *   (onSessionEnded: the login page) the socket waits, `paused`, for show() after the next login.
 * - 4409 (a newer socket of the member's, on another device, replaced this one) is not reopened until show():
 *   reopening at once would close one of theirs in turn. Every other close code reopens (1001/1012 restart,
 *   1006 no code, 1011, 4408 idle, 4429 slow consumer); only close() ends it for good.
 * - One socket per client: a second live() closes the first, and a socket opens only once the client's previous
 *   one has closed (wx counts it until then, and allows 5 per mini program).
 */
import type { components } from "../types";
import type { NetworkProblem, Session } from "./index";

type Schemas = components["schemas"];
/** openapi-typescript tags a message with its schema's name ("LivePost"); on the wire `type` is "post". */
type Wire<N extends keyof Schemas, T extends string> = Omit<Schemas[N], "type"> & { type: T };
export type LiveMessage =
  | Wire<"LiveReady", "ready">
  | Wire<"LivePost", "post">
  | Wire<"LiveComment", "comment">
  | Wire<"LiveNotification", "notification">
  | Wire<"LiveOnline", "online">
  | Wire<"LiveResync", "resync">
  | Wire<"LiveError", "error">;

export type LiveState =
  | { state: "connecting" }
  | { state: "open" }
  /** Lost with `code` (1006: none, or a refused handshake), reopening in `inMs`; `problem.userMessage` for people. */
  | { state: "retrying"; code: number; inMs: number; problem: NetworkProblem }
  /** Waiting for show(): 4409 replaced by a newer socket of the member's, 4401 no session (log in first). */
  | { state: "paused"; code: 4401 | 4409 }
  | { state: "closed" };

export interface LiveOptions {
  /** Server messages but ping/pong, and `resync` when events may have been missed. */
  onEvent: (message: LiveMessage) => void;
  onState?: (state: LiveState) => void;
  /** The first reconnect waits between half and all of this; each further one doubles it, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface LiveHandle {
  /** The community on screen, or null: sent now if the socket is open, and on every new socket. */
  view(communityId: string | null): void;
  /** App.onShow: reopen a socket that is not open (lost, replaced, waiting for a login), else say `resync`. */
  show(): void;
  /** Close for good: no reconnect. */
  close(): void;
}

/** What the socket takes from its client (index.ts). */
export interface LiveClient {
  url: string;
  session(): Session | null;
  /** One call in the session: a 401 renews it (refresh, else a silent login, else onSessionEnded). */
  probe(): Promise<unknown>;
  problem(errMsg: string): NetworkProblem;
  /** The end of the client's last socket, whichever handle opened it. */
  last: { ended: Promise<unknown> };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function openLive(client: LiveClient, options: LiveOptions): LiveHandle {
  const firstMs = options.backoffMs ?? 1000;
  const mostMs = options.maxBackoffMs ?? 30000;
  let state: LiveState["state"] = "paused"; // open() below says what it is
  let task: WechatMiniprogram.SocketTask | null = null;
  let ready = false; // the current socket said `ready`: it takes `view`
  let readies = 0; // after the first socket, events between two sockets may have been missed
  let failures = 0;
  let attempt = 0; // the latest open(): an older one still waiting gives way
  let timer = 0 as ReturnType<typeof setTimeout>;
  let shut = false; // close(): for good
  let viewing: string | null = null;

  const say = (next: LiveState) => {
    if (next.state === state && next.state === "connecting") return; // a loss, then its reopening: said once
    state = next.state;
    options.onState?.(next);
  };
  const send = (message: object) => {
    if (task && ready) task.send({ data: JSON.stringify(message) });
  };

  async function open() {
    clearTimeout(timer);
    const mine = ++attempt;
    say({ state: "connecting" });
    await Promise.race([client.last.ended, sleep(3000)]); // close before reopening
    if (mine !== attempt || state !== "connecting") return;
    const session = client.session(); // read now: the newest token
    if (!session) return say({ state: "paused", code: 4401 }); // logged out: show() after the next login
    let end!: (code: number) => void;
    const ended = new Promise<number>((resolve) => (end = resolve));
    client.last.ended = ended;
    const header = { Authorization: `Bearer ${session.accessToken}` };
    // wx may refuse at once (`fail`, e.g. 5 sockets open): no task then, or one that never opens.
    const socket = wx.connectSocket({ url: client.url, header, fail: () => end(1006) }) as
      | WechatMiniprogram.SocketTask
      | undefined;
    let opened = false;
    if (socket) {
      task = socket;
      ready = false;
      socket.onOpen(() => (opened = true));
      socket.onMessage(({ data }) => task === socket && heard(socket, JSON.parse(String(data))));
      // A refused handshake fires onError, and onClose too on some devices; a drop may fire both: the first
      // settles `ended`, so each socket is lost once and reopened once.
      socket.onError(() => end(1006));
      socket.onClose(({ code }) => end(code));
    }
    const code = await ended;
    if (task === (socket ?? null) && !shut) lost(socket, code, opened);
  }

  function heard(socket: WechatMiniprogram.SocketTask, message: LiveMessage | { type: "ping" } | { type: "pong" }) {
    if (message.type === "ping") socket.send({ data: JSON.stringify({ type: "pong" }) });
    else if (message.type === "ready") {
      ready = true;
      failures = 0;
      if (viewing !== null) send({ type: "view", communityId: viewing });
      say({ state: "open" });
      options.onEvent(message);
      if (readies++ > 0) options.onEvent({ type: "resync" });
    } else if (message.type !== "pong") options.onEvent(message);
  }

  async function lost(socket: WechatMiniprogram.SocketTask | undefined, code: number, opened: boolean) {
    task = null;
    ready = false;
    socket?.close({}); // after an error too: wx counts a socket until it is closed
    if (code === 4409) return say({ state: "paused", code });
    say({ state: "connecting" });
    if (code === 4401 || !opened) {
      await client.probe(); // an expired token is renewed here; a network failure keeps the session
      if (shut) return;
      if (!client.session()) return say({ state: "paused", code: 4401 }); // the session ended
    }
    const ceiling = Math.min(mostMs, firstMs * 2 ** failures++);
    const inMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jitter: devices do not return together
    timer = setTimeout(open, inMs);
    say({ state: "retrying", code, inMs, problem: client.problem(`live socket closed: ${code}`) });
  }

  void open();
  return {
    view(communityId) {
      viewing = communityId;
      send({ type: "view", communityId });
    },
    show() {
      if (state === "paused" || state === "retrying") {
        failures = 0;
        void open();
      } else if (state === "open") options.onEvent({ type: "resync" });
    },
    close() {
      if (shut) return;
      shut = true;
      clearTimeout(timer);
      const socket = task;
      task = null;
      ready = false;
      say({ state: "closed" });
      socket?.close({ code: 1000 });
    },
  };
}
