// The service desk's customer tab: find a customer by name, phone or address, read their file
// with its history newest first (paging back through any length of it), make a tracking link.
const $ = (id) => document.getElementById(id);
const HISTORY_PAGE = 50;

async function search(event) {
  event.preventDefault();
  const found = await api("GET", `/customers?q=${encodeURIComponent($("q").value)}`);
  $("results").replaceChildren(...found.customers.map((c) => {
    const row = el("tr", { class: "customer-row" }, el("td", {}, c.customer_id), el("td", {}, c.name || ""),
      el("td", {}, c.phone || ""), el("td", {}, c.address || ""));
    row.addEventListener("click", () => openCustomer(c.customer_id));
    return row;
  }));
}

function entry(e) {
  return el("li", { "data-position": e.position }, el("span", { class: "muted" }, when(e.occurred_at)), " ", e.summary,
    el("span", { class: "muted" }, ` · ${t(e.category)} ${e.subject_id.slice(0, 8)}`));
}

async function history(customerId, before) {
  const params = new URLSearchParams({ history_limit: HISTORY_PAGE, ...(before ? { history_before: before } : {}) });
  const file = await api("GET", `/customers/${encodeURIComponent(customerId)}/file?${params}`);
  $("customer-timeline").append(...file.history.map(entry));
  $("older").classList.toggle("hidden", !file.history_next_before);
  $("older").dataset.before = file.history_next_before || "";
  return file;
}

async function openCustomer(customerId) {
  $("customer").classList.remove("hidden");
  $("customer").dataset.customer = customerId;
  $("link").value = "";
  $("customer-timeline").replaceChildren();
  const file = await history(customerId);
  $("customer-title").textContent = `${customerId} ${file.name || ""}`;
  $("customer-products").replaceChildren(...file.products.map((p) => el("li", {},
    `${p.sku} ${p.description || ""} · ${when(p.purchased_at)}`, p.installed_by ? ` · ${t("engineer")}: ${p.installed_by}` : "")));
}

// After a language change: the open file's history again, its summaries in the new language.
export function reopenCustomer() {
  if (!$("customer").classList.contains("hidden")) openCustomer($("customer").dataset.customer);
}

export function wireDesk() {
  $("search-form").addEventListener("submit", search);
  $("older").addEventListener("click", () => history($("customer").dataset.customer, $("older").dataset.before));
  $("link-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const link = await api("POST", `/customers/${encodeURIComponent($("customer").dataset.customer)}/tracking-link`);
    $("link").value = new URL(link.url, location.href).href;
  });
}
