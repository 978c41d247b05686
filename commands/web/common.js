// Shared by the tracking page and the operator console: the API call with a bearer token,
// problem+json errors, and the two languages (English, Chinese).
"use strict";

const I18N = {
  en: {
    title_track: "Your orders and service", title_console: "Operator console", lang: "中文",
    loading: "Loading…", no_link: "This link is not valid (it may have expired). Ask us for a new one.",
    orders: "Orders", order: "Order", jobs: "Installation and visits", returns: "Returns and exchanges",
    claims: "Complaints and compensation", timeline: "Everything that happened", updated: "Updated",
    stock_prepared: "Stock prepared", left_warehouse: "Left the warehouse", driver_assigned: "Driver assigned",
    in_transit: "On the way", delivered: "Delivered", driver: "Driver", position: "Last position",
    appointment: "Appointment", engineer: "Engineer", status: "Status", waiting_for: "Waiting for",
    due: "Proposal due", amount: "Amount", none: "Nothing yet.",
    sales: "Sales", technical: "Technical", finance: "Finance", logistics: "Logistics",
    login: "Sign in", token: "Token", signed_in_as: "Signed in as", sign_out: "Sign out",
    customers: "Customers", search: "Search", search_hint: "name, phone or address", sla: "SLA board",
    ledger: "Engineer ledger", commands: "Commands", record_step: "Record delivery step", step: "Step",
    dispatch: "Dispatch job", reschedule: "Reschedule", vote: "Vote on return", approve: "Approve",
    reject: "Reject", propose: "Propose compensation", reason: "Reason", send: "Send",
    window_start: "From", window_end: "To", notice: "Customer told", initiator: "Asked by",
    done: "Done", warning: "Warning", breached: "Breached", time_left: "Time left", tier: "Tier",
    tracking_link: "Tracking link", make_link: "Make tracking link", balance: "Balance", lines: "Lines",
    older: "Older", older_subjects: "Earlier orders and services",
    language_recorded: "We will write to you in English from now on.",
  },
  zh: {
    title_track: "我的订单与服务", title_console: "客服操作台", lang: "English",
    loading: "加载中…", no_link: "此链接无效（可能已过期），请联系我们获取新链接。",
    orders: "订单", order: "订单", jobs: "安装与上门", returns: "退换货",
    claims: "投诉与赔偿", timeline: "全部记录", updated: "更新于",
    stock_prepared: "备货完成", left_warehouse: "已出库", driver_assigned: "已派司机",
    in_transit: "运输中", delivered: "已送达", driver: "司机", position: "最新位置",
    appointment: "预约时间", engineer: "工程师", status: "状态", waiting_for: "待审批部门",
    due: "方案截止", amount: "金额", none: "暂无。",
    sales: "销售", technical: "技术", finance: "财务", logistics: "物流",
    login: "登录", token: "令牌", signed_in_as: "当前用户", sign_out: "退出",
    customers: "客户", search: "搜索", search_hint: "姓名、电话或地址", sla: "SLA 看板",
    ledger: "工程师账本", commands: "操作", record_step: "记录配送节点", step: "节点",
    dispatch: "派单", reschedule: "改约", vote: "退货审批", approve: "同意",
    reject: "驳回", propose: "提出赔偿方案", reason: "原因", send: "提交",
    window_start: "开始", window_end: "结束", notice: "已通知客户", initiator: "发起方",
    done: "完成", warning: "预警", breached: "超时", time_left: "剩余时间", tier: "等级",
    tracking_link: "跟踪链接", make_link: "生成跟踪链接", balance: "余额", lines: "明细",
    older: "更早", older_subjects: "更早的订单与服务",
    language_recorded: "今后我们将用中文与您沟通。",
  },
};

const Chosen = new URLSearchParams(location.search).get("lang") || localStorage.getItem("serviceorder.lang");
const Page = {
  lang: Chosen || (navigator.language.startsWith("zh") ? "zh" : "en"),
  chosen: Boolean(Chosen),  // false: the browser's language, which a customer's recorded one may replace
  token: null,
};
// What the API is told the reader reads, so that summaries written by the server (timeline,
// tracking, customer file) come back in the language the page shows.
const ACCEPT_LANGUAGE = { en: "en", zh: "zh-CN, zh;q=0.9" };

function t(key) { return (I18N[Page.lang] || I18N.en)[key] || I18N.en[key] || key; }

// remember: false for a language the page was told (a customer's recorded one), not picked here.
function setLang(lang, remember = true) {
  Page.lang = lang;
  if (remember) { localStorage.setItem("serviceorder.lang", lang); Page.chosen = true; }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || String(status));
    this.status = status;
    this.problem = problem;
  }
}

// extra: more headers, e.g. If-Match with the version a list showed.
async function api(method, path, body, extra) {
  const headers = { Authorization: `Bearer ${Page.token}`, "Accept-Language": ACCEPT_LANGUAGE[Page.lang] || "en",
    ...(extra || {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(Page.lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}
