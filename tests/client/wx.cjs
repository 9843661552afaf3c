// A strict `wx` for tests: what a mini program can send, refused the way WeChat refuses it (../shared/WECHAT.md,
// "The client"). Real HTTP to the live API; wx.login and wx.requestPayment go to the WeChat sandbox, as the
// client's dev mode does in DevTools. createWx({sandbox, user}) -> {wx, log}; `log` lists every request sent.
// createWx({devtools: true}) is WeChat DevTools: wx.login gives a code only real WeChat can exchange and
// wx.requestPayment cannot pay a sandbox order, so the client's dev mode must not use them.
// createWx({launch: {path, query, shareTicket}}): opened from a share's card in a group chat (scene 1044);
// wx.getShareInfo reads that shareTicket (from POST {sandbox}/sandbox/share-ticket) through the sandbox.
const METHODS = new Set(["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT"]);
const MAX_REQUESTS = 10; // in flight, wx.request and wx.uploadFile each
const MAX_SOCKETS = 5;

function createWx({ sandbox, user = "alice", devtools = false, launch = {} } = {}) {
  const log = [];
  const storage = new Map();
  let requests = 0;
  let uploads = 0;
  let sockets = 0;

  // Callbacks as wx calls them: success or fail, then complete; also a promise when none is given.
  function settle(options, work) {
    return work.then(
      (answer) => (options.success?.(answer), options.complete?.(answer), answer),
      (error) => {
        const failure = { errMsg: error.errMsg ?? `${error.api}:fail ${error.message}` };
        options.fail?.(failure);
        options.complete?.(failure);
        if (!options.fail && !options.success) throw failure;
        return failure;
      },
    );
  }
  const refuse = (api, message) => Promise.reject({ errMsg: `${api}:fail ${message}` });
  const hasReferer = (header = {}) => Object.keys(header).some((name) => name.toLowerCase() === "referer");

  async function answerOf(response, parse) {
    const text = await response.text();
    const json = (response.headers.get("content-type") ?? "").includes("json");
    let data = text;
    if (parse && json && text) data = JSON.parse(text);
    return { statusCode: response.status, data, header: Object.fromEntries(response.headers), errMsg: "request:ok" };
  }

  function request(options) {
    const method = (options.method ?? "GET").toUpperCase();
    if (!METHODS.has(method)) return settle(options, refuse("request", "method is invalid"));
    if (hasReferer(options.header)) return settle(options, refuse("request", "invalid header: Referer"));
    if (requests >= MAX_REQUESTS) return settle(options, refuse("request", "exceed max task count"));
    requests += 1;
    log.push({ api: "request", method, url: options.url });
    let body = options.data;
    let url = options.url;
    if (body !== undefined && body !== null && typeof body === "object") {
      if (method === "GET") {
        url += (url.includes("?") ? "&" : "?") + new URLSearchParams(body).toString();
        body = undefined;
      } else body = JSON.stringify(body);
    }
    const header = { "content-type": "application/json", ...(options.header ?? {}) };
    const work = fetch(url, { method, headers: header, body: method === "GET" || method === "HEAD" ? undefined : body })
      .then((response) => answerOf(response, (options.dataType ?? "json") === "json"))
      .catch((error) => Promise.reject({ errMsg: `request:fail ${error.cause?.code ?? error.message}` }))
      .finally(() => (requests -= 1));
    return settle(options, work);
  }

  function uploadFile(options) {
    if (typeof options.name !== "string" || !options.name) return settle(options, refuse("uploadFile", "parameter name"));
    if (!(options.file instanceof Uint8Array) && !options.filePath) return settle(options, refuse("uploadFile", "file not found"));
    if (hasReferer(options.header)) return settle(options, refuse("uploadFile", "invalid header: Referer"));
    if (uploads >= MAX_REQUESTS) return settle(options, refuse("uploadFile", "exceed max task count"));
    uploads += 1;
    log.push({ api: "uploadFile", method: "POST", url: options.url });
    const form = new FormData();
    for (const [key, value] of Object.entries(options.formData ?? {})) form.append(key, String(value));
    const bytes = options.file ?? require("node:fs").readFileSync(options.filePath);
    form.append(options.name, new Blob([bytes]), require("node:path").basename(options.filePath ?? "tmp.jpg"));
    const work = fetch(options.url, { method: "POST", headers: options.header ?? {}, body: form })
      // The answer body is always a string here: the client parses it.
      .then((response) => answerOf(response, false))
      .then(({ statusCode, data }) => ({ statusCode, data, errMsg: "uploadFile:ok" }))
      .finally(() => (uploads -= 1));
    return settle(options, work);
  }

  async function sandboxPost(path, body) {
    const response = await fetch(`${sandbox}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw { errMsg: `sandbox ${path}: ${response.status} ${await response.text()}` };
    return response.status === 204 ? {} : response.json();
  }

  function login(options = {}) {
    log.push({ api: "login" });
    if (devtools) return settle(options, Promise.resolve({ code: "devtools-code-for-real-wechat", errMsg: "login:ok" }));
    return settle(options, sandboxPost("/sandbox/wx-login", { user }).then(({ code }) => ({ code, errMsg: "login:ok" })));
  }

  function requestPayment(options) {
    const fields = ["timeStamp", "nonceStr", "package", "signType", "paySign"];
    const bad = fields.filter((field) => typeof options[field] !== "string" || !options[field]);
    if (bad.length) return settle(options, refuse("requestPayment", `parameter error: ${bad.join(", ")}`));
    if (options.signType !== "RSA") return settle(options, refuse("requestPayment", "signType must be RSA"));
    const prepayId = options.package.replace(/^prepay_id=/, "");
    log.push({ api: "requestPayment", prepayId });
    if (devtools) return settle(options, refuse("requestPayment", "sandbox order cannot be paid in DevTools"));
    return settle(options, sandboxPost("/sandbox/pay", { prepayId }).then(() => ({ errMsg: "requestPayment:ok" })));
  }

  // The launch options: scene 1044 (a card with a shareTicket, from a group chat) when a ticket came, else 1001.
  function getLaunchOptionsSync() {
    const { path = "pages/index/index", query = {}, shareTicket } = launch;
    return shareTicket ? { path, query, scene: 1044, shareTicket } : { path, query, scene: 1001 };
  }

  // wx.getShareInfo({shareTicket}): {encryptedData, iv} ({openGId} and its watermark) under the session_key of the
  // user's latest wx.login, which the sandbox holds; a ticket the sandbox never issued fails. (WeChat also answers a
  // cloudID, for cloud functions only: left out.) DevTools cannot read a sandbox ticket.
  function getShareInfo(options) {
    const ticket = options.shareTicket;
    if (typeof ticket !== "string" || !ticket) return settle(options, refuse("getShareInfo", "parameter error: shareTicket"));
    log.push({ api: "getShareInfo" });
    if (devtools) return settle(options, refuse("getShareInfo", "sandbox shareTicket cannot be read in DevTools"));
    const work = sandboxPost("/sandbox/share-info", { user, shareTicket: ticket }).then(
      ({ encryptedData, iv }) => ({ encryptedData, iv, errMsg: "getShareInfo:ok" }),
      () => Promise.reject({ errMsg: "getShareInfo:fail invalid shareTicket" }),
    );
    return settle(options, work);
  }

  // wx.connectSocket: at most 5 open at once, headers (Authorization) allowed but not Referer, ws(s) URLs only
  // (the device insists on wss://, DevTools' 不校验合法域名 lets ws:// through), text frames arrive as strings.
  function connectSocket(options) {
    const fail = (message) => (settle(options, refuse("connectSocket", message)), null);
    if (!/^wss?:\/\//.test(options.url ?? "")) return fail("invalid url");
    if (hasReferer(options.header)) return fail("invalid header: Referer");
    if (sockets >= MAX_SOCKETS) return fail("exceed max task count");
    if (typeof WebSocket === "undefined") return fail("no WebSocket in this node (run it with --experimental-websocket)");
    sockets += 1;
    log.push({ api: "connectSocket", url: options.url });
    const socket = new WebSocket(options.url, { protocols: options.protocols, headers: options.header ?? {} });
    let open = true;
    const release = () => open && ((open = false), (sockets -= 1));
    socket.addEventListener("close", release);
    socket.addEventListener("error", release); // a refused handshake may end without a close event
    const on = (event, wrap) => (fn) => socket.addEventListener(event, (e) => fn(wrap(e)));
    const task = {
      onOpen: on("open", () => ({ header: {}, errMsg: "connectSocket:ok" })),
      onMessage: on("message", (e) => ({ data: typeof e.data === "string" ? e.data : new Uint8Array(e.data).buffer })),
      onClose: on("close", (e) => ({ code: e.code, reason: e.reason })),
      onError: on("error", () => ({ errMsg: "connectSocket:fail" })),
      send: ({ data, success, fail: failed }) => {
        if (socket.readyState !== 1) return failed?.({ errMsg: "sendSocketMessage:fail socket is not connected" });
        socket.send(data);
        success?.({ errMsg: "sendSocketMessage:ok" });
      },
      close: ({ code, reason } = {}) => socket.close(code ?? 1000, reason),
    };
    settle(options, Promise.resolve({ errMsg: "connectSocket:ok" }));
    return task;
  }

  const wx = {
    request,
    uploadFile,
    login,
    requestPayment,
    connectSocket,
    getLaunchOptionsSync,
    getShareInfo,
    // Storage keeps what JSON keeps, like the device's.
    setStorageSync: (key, value) => storage.set(key, JSON.stringify(value)),
    getStorageSync: (key) => (storage.has(key) ? JSON.parse(storage.get(key)) : ""),
    removeStorageSync: (key) => storage.delete(key),
  };
  return { wx, log };
}

module.exports = { createWx, METHODS, MAX_REQUESTS, MAX_SOCKETS };
