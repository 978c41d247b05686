// A console board: one list read from a view, with its filters, cursor paging ("More") and
// the action at hand on each row. An action is a command sent with If-Match: the version the
// row was read at. When the item changed meanwhile (409/412) the board says so in words and
// offers a reload, instead of acting on what the operator no longer sees.

const CONFLICTS = new Set([409, 412]);
const RETRIES = 10;
const WAIT_SECONDS = 10;  // per read, for the view to hold a write just made

// Deadlines count down against the server's clock (which a demo may move), not the desk's.
export const Clock = {
  offset: 0,
  sync(serverNow) { if (serverNow) Clock.offset = Date.parse(serverNow) - Date.now(); },
  now() { return Date.now() + Clock.offset; },
};

function span(ms) {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
  return `${days ? `${days}d ` : ""}${hours}h ${String(mins).padStart(2, "0")}m`;
}

// A deadline that counts down every second (see tick); overdue turns it red.
export function countdown(dueIso) {
  return el("span", { class: "countdown", "data-due": dueIso || "" });
}

function tick() {
  document.querySelectorAll(".countdown").forEach((node) => {
    if (!node.dataset.due) { node.textContent = "–"; return; }
    const left = Date.parse(node.dataset.due) - Clock.now();
    node.textContent = left >= 0 ? `${span(left)} ${t("left")}` : `${t("overdue_by")} ${span(left)}`;
    node.className = `countdown badge ${left < 0 ? "bad" : left < 4 * 3600000 ? "warn" : "ok"}`;
  });
}
setInterval(tick, 1000);

export function field(name, labelKey, attrs = {}) {
  return el("label", {}, el("span", { "data-i18n": labelKey }, t(labelKey)), el("input", { name, ...attrs }));
}

// options: values shown by their label (a value "" reads "all"), or [value, label key] pairs.
export function choice(name, labelKey, options, value) {
  const select = el("select", { name }, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o || "all"];
    return el("option", { value: v, selected: v === value }, t(label));
  }));
  return el("label", {}, el("span", { "data-i18n": labelKey }, t(labelKey)), select);
}

export class Board {
  // spec: { id, title, filters: () => [nodes], path: "/list" or (values) => path, items: (page) => [],
  //         columns: [label keys], cells: (item) => [cells], actions: (item, board) => [nodes] }
  constructor(spec) {
    this.spec = spec;
    this.filters = el("form", { class: "filters" }, ...(spec.filters ? spec.filters() : []),
      el("button", { type: "submit", class: "primary", "data-i18n": "show" }, t("show")));
    this.table = el("table", { class: "board-list" });
    this.more = el("button", { type: "button", class: "more hidden", "data-i18n": "more" }, t("more"));
    this.message = el("div", { class: "board-message" });
    this.element = el("div", { class: "board", id: `board-${spec.id}` },
      el("h2", { "data-i18n": spec.title }, t(spec.title)), this.filters, this.message, this.table, this.more);
    this.filters.addEventListener("submit", (event) => { event.preventDefault(); this.load(); });
    this.more.addEventListener("click", () => this.load({ append: true }));
  }

  values() { return Object.fromEntries([...new FormData(this.filters).entries()].filter(([, v]) => v !== "")); }

  // Reads the first page (or the next one, appended); after a command, waits until the view
  // holds that write (wait_for_position), so the list shows what the operator just did.
  async load({ append = false, waitFor } = {}) {
    const values = this.values();
    // A path may take some filters into itself (a function of the values, which removes them).
    const path = typeof this.spec.path === "function" ? this.spec.path(values) : this.spec.path;
    const params = new URLSearchParams(values);
    if (append && this.cursor) params.set("cursor", this.cursor);
    if (waitFor) {
      params.set("wait_for_position", waitFor);
      params.set("wait_timeout", WAIT_SECONDS);
    }
    let page;
    for (let attempt = 1; ; attempt++) {
      try {
        page = await api("GET", `${path}?${params}`);
        break;
      } catch (e) {
        // 503: the view has not caught up with the write yet (or the store is away): retry a while.
        if (e.status !== 503 || attempt === RETRIES) { this.fail(e); return false; }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    Clock.sync(page.now);
    this.cursor = page.next_cursor;
    this.more.classList.toggle("hidden", !page.next_cursor);
    const rows = this.spec.items(page).map((item) => this.row(item));
    if (!append) {
      const head = el("tr", {}, this.spec.columns.map((k) => el("th", { "data-i18n": k }, t(k))), el("th", {}));
      this.table.replaceChildren(head, ...rows);
      if (!rows.length) this.table.append(el("tr", {}, el("td", { class: "muted", colSpan: 99 }, t("none"))));
    } else this.table.append(...rows);
    tick();
    return true;
  }

  row(item) {
    const cells = this.spec.cells(item).map((c) => el("td", {}, c));
    const actions = this.spec.actions ? this.spec.actions(item, this) : [];
    return el("tr", { class: "board-row", "data-id": this.spec.key(item) }, cells, el("td", { class: "actions" }, actions));
  }

  // A button that sends one command for ``item`` with If-Match; send(headers) calls the API.
  action(item, labelKey, send, cls = "") {
    const button = el("button", { type: "button", class: cls, "data-action": labelKey }, t(labelKey));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const result = await send({ "If-Match": `"${item.version}"` });
        // Said once the list shows the change (or why it could not be read).
        if (await this.load({ waitFor: result.position })) this.say(`${t("done")}: ${t(labelKey)}`, "result");
      } catch (e) {
        this.fail(e);
      } finally { button.disabled = false; }
    });
    return button;
  }

  say(text, cls) { this.message.replaceChildren(el("p", { class: cls }, text)); }

  fail(e) {
    if (CONFLICTS.has(e.status)) {
      const reload = el("button", { type: "button", class: "reload", "data-i18n": "reload" }, t("reload"));
      reload.addEventListener("click", () => { this.message.replaceChildren(); this.load(); });
      this.message.replaceChildren(el("p", { class: "error conflict" },
        `${t(e.status === 412 ? "changed_meanwhile" : "refused")} ${e.message} `, reload));
    } else this.say(e.message, "error");
  }
}
