/**
 * How a page uses the client; type-checked with the rest (`tsc --noEmit`), so it breaks when the API does.
 * The `@ts-expect-error` lines prove the types catch mistakes.
 */
import { createClient, memoryTokens } from "./index";

const api = createClient({ baseUrl: "http://127.0.0.1:8000", tokens: memoryTokens() });

export async function joinAndGreet(communityId: string): Promise<string> {
  const joined = await api.post("/v1/communities/{community_id}/join", {
    path: { community_id: communityId },
    idempotencyKey: `join-${communityId}`,
  });
  if (joined.ok) {
    const answer = joined.data;
    if (answer.outcome === "payment" && answer.order?.payment) {
      return `pay ${answer.order.amountFen} fen`; // pass answer.order.payment to wx.requestPayment
    }
    return answer.welcome?.text ?? answer.outcome;
  }
  switch (joined.problem.code) {
    case "community_full":
      return "已满员";
    case "token_expired":
    case "unauthorized":
      return "请重新登录";
    case "network_error":
      return "网络不可用";
    // @ts-expect-error: joinCommunity never answers poll codes
    case "poll_closed":
      return "never";
    default:
      return joined.problem.title;
  }
}

export async function post(communityId: string, text: string) {
  const created = await api.post("/v1/communities/{community_id}/posts", {
    path: { community_id: communityId },
    body: { text },
  });
  return created.ok ? created.data.id : created.problem.code;
}

export async function feed(communityId: string) {
  const page = await api.get("/v1/communities/{community_id}/feed", {
    path: { community_id: communityId },
    query: { order: "hot", limit: 20 },
  });
  // @ts-expect-error: the path parameter is required
  await api.get("/v1/communities/{community_id}/feed");
  // @ts-expect-error: there is no PUT on this path
  await api.put("/v1/communities/{community_id}/feed", { path: { community_id: "1" } });
  return page.ok ? page.data.items.map((item) => item.id) : [];
}

export async function me() {
  const answer = await api.get("/v1/me"); // no options needed
  return answer.ok ? answer.data.nickname : null;
}

export async function joinPaid(communityId: string) {
  const joined = await api.post("/v1/communities/{community_id}/join", { path: { community_id: communityId } });
  const order = joined.ok ? joined.data.order : null;
  if (!order?.payment) return null;
  // `order.payment` is what wx.requestPayment takes, as is (signType is the literal "RSA"):
  const sheet: WechatMiniprogram.RequestPaymentOption = order.payment;
  void sheet;
  // pay() shows the payment sheet, then follows the order until it is paid, refunded or closed.
  const paid = await api.pay(order);
  return paid.ok ? paid.data.status : paid.problem.code;
}

/** Live updates for a community page: messages typed by their `type`, the state for a quiet hint. */
export function watch(communityId: string, show: (text: string) => void) {
  const live = api.live({
    onEvent: (message) => {
      if (message.type === "post") show(`new post ${message.postId}`);
      else if (message.type === "online") show(`${message.count} online`);
      // @ts-expect-error: the server has no such message
      else if (message.type === "typing") show("typing");
    },
    onState: (state) => state.state === "retrying" && show(state.problem.userMessage),
  });
  live.view(communityId);
  // @ts-expect-error: ids are strings
  live.view(42);
  return live;
}
