// Drives GET /v1/live through the strict wx.connectSocket, as a mini program does: signed in, the token in the
// header, JSON texts both ways. Usage: node --experimental-websocket live_socket.cjs <api url> <sandbox url>
const { createWx } = require("./wx.cjs");

const [api, sandbox] = process.argv.slice(2);
const { wx } = createWx({ sandbox, user: "socketeer" });
const call = (options) => new Promise((resolve) => wx.request({ ...options, success: resolve, fail: resolve }));
const live = api.replace(/^http/, "ws") + "/v1/live";

// A socket and a way to wait for its next message of a type.
function open(header) {
  const task = wx.connectSocket({ url: live, header });
  if (task === null) return null;
  const inbox = [];
  const waiting = [];
  const types = [];
  task.onMessage(({ data }) => {
    types.push(typeof data);
    const message = JSON.parse(data);
    const i = waiting.findIndex((w) => w.type === message.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(message);
    else inbox.push(message);
  });
  const next = (type) =>
    new Promise((resolve, reject) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return resolve(inbox.splice(i, 1)[0]);
      waiting.push({ type, resolve });
      setTimeout(() => reject(new Error(`no ${type} message`)), 5000);
    });
  const closed = new Promise((resolve) => task.onClose(resolve));
  const failed = new Promise((resolve) => task.onError(resolve));
  return { task, next, closed, failed, types };
}

(async () => {
  const { code } = await new Promise((resolve, reject) => wx.login({ success: resolve, fail: reject }));
  const login = await call({ url: `${api}/v1/auth/login`, method: "POST", data: { code } });
  const header = { Authorization: `Bearer ${login.data.accessToken}` };
  const community = await call({ url: `${api}/v1/communities`, method: "POST", header, data: { name: "晨跑团" } });
  const cid = community.data.id;

  const main = open(header);
  const ready = await main.next("ready");
  main.task.send({ data: JSON.stringify({ type: "view", communityId: cid }) });
  const online = await main.next("online");
  const post = await call({ url: `${api}/v1/communities/${cid}/posts`, method: "POST", header, data: { text: "早上好" } });
  const event = await main.next("post");
  main.task.send({ data: JSON.stringify({ type: "ping" }) });
  await main.next("pong");
  // The feed from the newest post I have: nothing new.
  const since = await call({ url: `${api}/v1/communities/${cid}/feed`, header, data: { since: event.postId } });

  const more = [1, 2, 3, 4].map(() => open(header));
  const sixth = await new Promise((resolve) => wx.connectSocket({ url: live, header, fail: resolve }));
  const noToken = await new Promise((resolve) => wx.connectSocket({ url: "https://example.com/v1/live", fail: resolve }));
  await Promise.all(more.map((socket) => socket.next("ready")));
  for (const socket of [main, ...more]) socket.task.close({ code: 1000 });
  const closedCode = (await main.closed).code;
  await Promise.all(more.map((socket) => socket.closed));
  const refused = open({ Authorization: "Bearer not-a-token" });
  const refusal = await Promise.race([refused.failed, refused.next("ready").catch(() => "no ready")]);

  console.log(
    JSON.stringify({
      ready: ready.userId === login.data.user.id,
      online: online.count,
      post: event.postId === post.data.id,
      since: since.data.items.length,
      types: [...new Set(main.types)],
      sixth: sixth.errMsg,
      badUrl: noToken.errMsg,
      refused: refusal.errMsg ?? refusal,
      closed: closedCode,
    }),
  );
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
