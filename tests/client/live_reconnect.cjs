// docs/live.md's app.js, run as written through the strict wx (wx.cjs) with the compiled client kit as its `api`,
// against the real API: the kit's live() socket opens with the session's token and, phase by phase, is closed
// with 4401 when its token expires (renewed, reopened), dropped by the server (reopened once after a jittered
// backoff, the view sent again, the gap caught up with `since`), refused at the handshake (renewed, reopened),
// replaced by another device's sockets (4409: not reopened until onShow), left without a session (not reopened),
// closed by the app while waiting to reopen (not reopened), and replaced by a second live() of the client (closed
// first). Never two of the app's sockets at once.
// Usage: node --experimental-websocket live_reconnect.cjs <compiled client/index.js> <api> <sandbox>
// It asks the test (a JSON line out, a JSON line back in) for what only the server can do: {ask: "drop"} closes
// every open socket as a restarting server does (1001); {ask: "token", userId, seconds} issues an access token
// that expires that soon.
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");

const [clientPath, api, sandbox] = process.argv.slice(2);
const { createWx } = require("./wx.cjs");
const { wx, log } = createWx({ sandbox, user: "lena" });
globalThis.wx = wx;
const { createClient } = require(clientPath);
const live = api.replace(/^http/, "ws") + "/v1/live";

const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(question) {
  process.stdout.write(JSON.stringify(question) + "\n");
  return JSON.parse((await answers.next()).value);
}

// The app's sockets: how many opened, how many are open now and the most at once, every close code.
const sockets = { opened: 0, open: 0, most: 0 };
const closes = [];
const connectSocket = wx.connectSocket;
wx.connectSocket = (options) => {
  const task = connectSocket(options);
  if (!task) return task;
  sockets.opened += 1;
  sockets.open += 1;
  sockets.most = Math.max(sockets.most, sockets.open);
  let done = false;
  const release = () => done || ((done = true), (sockets.open -= 1));
  task.onClose(({ code }) => (closes.push(code), release()));
  task.onError(release);
  return task;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check, ms = 10000) {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await sleep(20);
  if (!check()) throw new Error(`timed out waiting for ${check}: ${JSON.stringify(log.slice(-6))}`);
}
// What the app did since `mark`: sockets opened ("socket"), wx.login ("login") and requests ("GET /v1/me").
const trace = (mark) =>
  log.slice(mark).map((e) => (e.url ? (e.method ? `${e.method} ${new URL(e.url).pathname}` : "socket") : e.api));

const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "live.md"), "utf8");
const code = doc.match(/```js\n([\s\S]*?)```/)[1].replace(/^import .*$/m, ""); // `api` is given below

(async () => {
  const seen = {};
  let failLogin = false;
  const loginCode = () =>
    failLogin
      ? Promise.reject(new Error("login:fail"))
      : new Promise((resolve, reject) => wx.login({ success: ({ code }) => resolve(code), fail: reject }));
  const ended = [];
  const client = createClient({ baseUrl: api, loginCode, onSessionEnded: (problem) => ended.push(problem.code) });
  const userId = (await client.login()).data.user.id;
  const community = await client.post("/v1/communities", { body: { name: "Morning runners" } });
  const cid = community.data.id;
  const write = async (text) =>
    (await client.post("/v1/communities/{community_id}/posts", { path: { community_id: cid }, body: { text } })).data.id;

  // The app as docs/live.md writes it; its bus, the community page on screen and the badge are the test's.
  const events = [];
  const states = [];
  let caughtUp = 0;
  const prepended = [];
  const bus = {
    emit: (type, message) => (type === "live" ? states.push(message) : events.push(message)),
    viewing: {
      id: cid,
      newestPostId: undefined,
      prepend(items) {
        prepended.push(...items.map((item) => item.id));
        if (items.length) this.newestPostId = items[items.length - 1].id;
      },
    },
    newestNotificationId: undefined,
    setBadge: () => (caughtUp += 1),
  };
  let app = null;
  let page = null;
  new Function("wx", "api", "App", "Page", "getApp", code)(
    wx,
    client,
    (o) => (app = Object.assign(o, bus)),
    (o) => (page = o),
    () => app,
  );
  const count = (type) => events.filter((e) => e.type === type).length;
  const statesSince = (mark) => states.slice(mark).map((s) => (s.code ? `${s.state} ${s.code}` : s.state));

  // 1. The token expires while the socket is open: 4401, the session renewed through the kit, reopened.
  const { token } = await ask({ ask: "token", userId, seconds: 3 });
  client.tokens.set({ ...client.tokens.get(), accessToken: token });
  let mark = log.length;
  app.onLaunch();
  app.onShow();
  await until(() => count("ready") === 1);
  page.onShow.call({ data: { id: cid } });
  await until(() => count("online") === 1);
  const first = await write("Good morning, runners");
  await until(() => events.some((e) => e.type === "post" && e.postId === first));
  bus.viewing.newestPostId = first;
  await until(() => count("ready") === 2);
  await until(() => caughtUp === 1); // the reconnect's resync
  await until(() => count("online") === 2); // the view, sent again on the new socket
  seen.expired = {
    trace: trace(mark).filter((t) => !t.startsWith("POST /v1/communities")),
    closes: [...closes],
    ended: [...ended],
    online: events.filter((e) => e.type === "online").map((e) => [e.communityId === cid, e.count]),
  };

  // 2. The server drops the socket (a restart): reopened once after the backoff; a post written meanwhile is
  // caught up with `since`.
  mark = log.length;
  let stateMark = states.length;
  await ask({ ask: "drop" });
  const missed = await write("While you were away");
  await until(() => count("ready") === 3);
  await until(() => caughtUp === 2);
  await until(() => count("online") === 3);
  const retrying = states.slice(stateMark).find((s) => s.state === "retrying");
  seen.dropped = {
    trace: trace(mark).filter((t) => !t.startsWith("POST /v1/communities")),
    closes: closes.slice(1),
    states: statesSince(stateMark),
    waited: retrying.inMs >= 500 && retrying.inMs <= 1000,
    problem: [retrying.problem.code, retrying.problem.userMessage],
    caughtUp: prepended.includes(missed),
  };

  // 3. Back with a token the server refuses: the handshake fails, the session is renewed, reopened once.
  client.tokens.set({ ...client.tokens.get(), accessToken: "not-a-token" });
  mark = log.length;
  stateMark = states.length;
  await ask({ ask: "drop" });
  await until(() => count("ready") === 4);
  await sleep(1500); // nothing more opens
  seen.refused = { trace: trace(mark), closes: closes.slice(2), states: statesSince(stateMark) };

  // 4. Five sockets of the member's on another device: the app's, the oldest, is replaced (4409) and waits for
  // onShow, which reopens it.
  const other = createWx({ sandbox, user: "lena" }).wx;
  const { code: wxCode } = await new Promise((resolve, reject) => other.login({ success: resolve, fail: reject }));
  const session = await new Promise((resolve) =>
    other.request({ url: `${api}/v1/auth/login`, method: "POST", data: { code: wxCode }, success: resolve }),
  );
  const header = { Authorization: `Bearer ${session.data.accessToken}` };
  const theirs = Array.from({ length: 5 }, () => other.connectSocket({ url: live, header }));
  const theirCloses = [];
  for (const task of theirs) task.onClose(({ code }) => theirCloses.push(code));
  mark = log.length;
  stateMark = states.length;
  await until(() => closes.includes(4409));
  await sleep(3000); // past any backoff
  const before = trace(mark);
  app.onShow();
  await until(() => count("ready") === 5);
  await until(() => theirCloses.includes(4409)); // reopening closed their oldest in turn: why not at once
  await until(() => caughtUp === 4);
  seen.replaced = { before, after: trace(mark).slice(before.length), states: statesSince(stateMark) };
  for (const task of theirs) task.close({ code: 1000 });
  await until(() => theirCloses.length === 5);

  // 5. The session ends (refresh token spent, wx.login failing): the socket waits for a login and onShow.
  const { refreshToken } = client.tokens.get();
  await new Promise((resolve) =>
    wx.request({ url: `${api}/v1/auth/refresh`, method: "POST", data: { refreshToken }, success: resolve }),
  ); // spent: it works once
  client.tokens.set({ accessToken: "not-a-token", refreshToken });
  failLogin = true;
  mark = log.length;
  stateMark = states.length;
  await ask({ ask: "drop" });
  await until(() => states.length > stateMark && states[states.length - 1].state === "paused");
  await sleep(2500);
  const over = { trace: trace(mark), states: statesSince(stateMark), ended: [...ended], tokens: client.tokens.get() };
  failLogin = false;
  await client.login();
  app.onShow();
  await until(() => count("ready") === 6);
  await until(() => caughtUp === 5);
  seen.ended = { ...over, back: trace(mark).slice(over.trace.length) };

  // 6. close() while a lost socket waits to reopen: nothing reopens.
  mark = log.length;
  stateMark = states.length;
  await ask({ ask: "drop" });
  await until(() => states.some((s, i) => i >= stateMark && s.state === "retrying"));
  app.live.close();
  await sleep(2500);
  seen.closed = { trace: trace(mark), states: statesSince(stateMark) };

  // 7. A second live() of the client closes the first before it opens its own socket.
  mark = log.length;
  const firstStates = [];
  const secondEvents = [];
  client.live({ onEvent: () => {}, onState: (s) => firstStates.push(s.state) });
  await until(() => firstStates.includes("open"));
  client.live({ onEvent: (e) => secondEvents.push(e.type), onState: () => {} }).view(cid);
  await until(() => secondEvents.includes("online"));
  seen.second = { trace: trace(mark), first: firstStates, second: secondEvents };

  seen.sockets = { opened: sockets.opened, most: sockets.most };
  console.log(JSON.stringify(seen));
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
