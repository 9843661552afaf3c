// docs/live.md's app.js, run as written through the strict wx (wx.cjs) with the client kit as its `api`: its token
// taken from the kit's session, a refused handshake (an expired token) renewed and reopened once, with one socket
// open at a time, and a socket replaced by another device's (4409) not reopened at once (that would close one of
// theirs in turn). Usage: node --experimental-websocket live_reconnect.cjs <compiled client/index.js> <api> <sandbox>
const fs = require("node:fs");
const path = require("node:path");

const [clientPath, api, sandbox] = process.argv.slice(2);
const { createWx } = require("./wx.cjs");
const { wx, log } = createWx({ sandbox, user: "lena" });
globalThis.wx = wx;
const { createClient } = require(clientPath);
const live = api.replace(/^http/, "ws") + "/v1/live";

// Every close the app's sockets see, beside the doc's own handlers.
const closes = [];
const connectSocket = wx.connectSocket;
wx.connectSocket = (options) => {
  const task = connectSocket(options);
  task?.onClose(({ code }) => closes.push(code));
  return task;
};
const opened = () => log.filter((entry) => entry.api === "connectSocket").length;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check, ms = 8000) {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await sleep(50);
  return check();
}

const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "live.md"), "utf8");
const code = doc
  .match(/```js\n([\s\S]*?)```/)[1]
  .replace(/^import .*$/m, "") // `api` is given below
  .replace('"wss://api.example.com/v1/live"', JSON.stringify(live));

(async () => {
  const seen = {};
  const client = createClient({ baseUrl: api }); // the session in wx storage, as on a device
  await client.login();
  const events = [];
  const shared = { emit: (type) => events.push(type), viewing: null, setBadge: () => {}, newestNotificationId: undefined };
  let app = null;
  new Function("wx", "api", "App", "Page", "getApp", code)(wx, client, (o) => (app = o), () => {}, () => shared);

  // Back from the background with an access token that expired meanwhile: refused, renewed, reopened once.
  client.tokens.set({ ...client.tokens.get(), accessToken: "not-a-token" });
  app.onShow();
  seen.ready = await until(() => events.includes("ready"));
  await sleep(1500);
  seen.renewed = { sockets: opened(), closes: [...closes] };

  // Five sockets of the same member on another device: the app's, the oldest, is replaced (4409).
  const other = createWx({ sandbox, user: "lena" }).wx;
  const { code: wxCode } = await new Promise((resolve, reject) => other.login({ success: resolve, fail: reject }));
  const session = await new Promise((resolve) =>
    other.request({ url: `${api}/v1/auth/login`, method: "POST", data: { code: wxCode }, success: resolve }),
  );
  const header = { Authorization: `Bearer ${session.data.accessToken}` };
  const theirs = Array.from({ length: 5 }, () => other.connectSocket({ url: live, header }));
  const theirCloses = [];
  for (const task of theirs) task.onClose(({ code }) => theirCloses.push(code));
  await until(() => closes.includes(4409));
  await sleep(3000); // past the doc's backoff
  seen.replaced = { sockets: opened(), closes: [...closes], theirs: theirCloses };
  for (const task of theirs) task.close({ code: 1000 });
  console.log(JSON.stringify(seen));
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
