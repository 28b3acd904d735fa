// The search page and the post view.  The state of a search lives in the address
// (?q=&page=&since=&until=&tag=&category=&year=), so a search can be bookmarked, sent and
// walked with Back and Forward; results come as one types (never while an input method is
// composing), and an answer to an older request is dropped.  Every text of a post goes into
// the page as text (textContent, text nodes), never as markup, and only http(s) links are
// made links.
"use strict";

const $ = (id) => document.getElementById(id);

// --- one language: Chinese, or English when the browser asks for it ---------------------------

const TEXTS = {
  zh: {
    placeholder: "搜索新闻（简体、繁体均可）",
    since: "从", until: "到", search: "搜索", filters: "筛选", prev: "上一页", next: "下一页",
    page: (n) => `第 ${n} 页`,
    summary: (a, b, t, ms) => `第 ${a}–${b} 条，共 ${t} 条（${ms} 毫秒）`,
    none: "没有找到文章",
    missing: (w) => `没有文章包含：${w}`,
    some: "没有文章包含所有的词，以下文章包含其中一部分",
    showing: "显示的是以下搜索的结果：", instead: "仍然搜索：", suggest: "你是不是要找：",
    also: (w, o) => `“${w}”同时搜索了：${o}`,
    categories: "分类", tags: "标签", years: "年份", allYears: "全部年份",
    copies: (n) => `另有 ${n} 篇相同的报道`,
    chartLabel: (q) => `“${q}”每月的文章数`, months: "月份", posts: "篇数",
    chartHint: "点击柱形只看那个月",
    back: "← 返回搜索", source: "原文链接", copiesTitle: "同一报道的其他文章",
    similarTitle: "相似的文章", error: "出错了：",
  },
  en: {
    placeholder: "Search the news (simplified or traditional)",
    since: "From", until: "To", search: "Search", filters: "Filters", prev: "Previous",
    next: "Next",
    page: (n) => `Page ${n}`,
    summary: (a, b, t, ms) => `${a}–${b} of ${t} posts (${ms} ms)`,
    none: "No posts found",
    missing: (w) => `No post holds: ${w}`,
    some: "No post holds every word; these hold some of them",
    showing: "Showing results for: ", instead: "Search instead for: ", suggest: "Did you mean: ",
    also: (w, o) => `“${w}” also searched: ${o}`,
    categories: "Categories", tags: "Tags", years: "Years", allYears: "All years",
    copies: (n) => `${n} more ${n === 1 ? "copy" : "copies"} of this story`,
    chartLabel: (q) => `Posts a month for “${q}”`, months: "Month", posts: "Posts",
    chartHint: "Click a bar to see that month only",
    back: "← Back to the search", source: "Source", copiesTitle: "Other copies of this story",
    similarTitle: "Similar posts", error: "Error: ",
  },
};

function language() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "zh") return asked;
  const first = (navigator.languages && navigator.languages[0]) || navigator.language || "zh";
  return first.toLowerCase().startsWith("en") ? "en" : "zh";
}

const LANG = language();
const T = TEXTS[LANG];
document.documentElement.lang = LANG === "en" ? "en" : "zh";
for (const node of document.querySelectorAll("[data-text]")) node.textContent = T[node.dataset.text];
$("q").placeholder = T.placeholder;

// --- the state, in the address ----------------------------------------------------------------

const state = { q: "", page: 1, since: "", until: "", tags: [], categories: [], year: "", exact: false };

function fromAddress() {
  const p = new URLSearchParams(location.search);
  state.q = p.get("q") || "";
  state.page = Math.max(1, parseInt(p.get("page") || "1", 10) || 1);
  state.since = p.get("since") || "";
  state.until = p.get("until") || "";
  state.tags = p.getAll("tag");
  state.categories = p.getAll("category");
  state.year = /^\d{4}$/.test(p.get("year") || "") ? p.get("year") : "";
  state.exact = p.get("exact") === "1";
  $("q").value = state.q;
  $("since").value = state.since;
  $("until").value = state.until;
}

function address() {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.since) p.set("since", state.since);
  if (state.until) p.set("until", state.until);
  state.tags.forEach((t) => p.append("tag", t));
  state.categories.forEach((c) => p.append("category", c));
  if (state.year) p.set("year", state.year);
  if (state.exact) p.set("exact", "1");
  if (new URLSearchParams(location.search).get("lang")) p.set("lang", LANG);
  const text = p.toString();
  return "/" + (text ? "?" + text : "");
}

function remember(push) {
  const next = address();
  if (next === location.pathname + location.search) return;
  if (push) history.pushState(null, "", next); else history.replaceState(null, "", next);
}

function apiParams(extra) {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  const since = state.year ? `${state.year}-01-01` : state.since;
  const until = state.year ? `${state.year}-12-31` : state.until;
  if (since) p.set("since", since);
  if (until) p.set("until", until);
  state.tags.forEach((t) => p.append("tag", t));
  state.categories.forEach((c) => p.append("category", c));
  if (state.exact) p.set("exact", "1");
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p;
}

function hasSearch() {
  return Boolean(state.q || state.since || state.until || state.tags.length ||
    state.categories.length || state.year);
}

// --- drawing ------------------------------------------------------------------------------------

function marked(text, spans) {
  // the text with each [start, end) span in a <mark>, built as nodes
  const out = document.createDocumentFragment();
  let at = 0;
  for (const [start, end] of spans || []) {
    out.append(document.createTextNode(text.slice(at, start)));
    const m = document.createElement("mark");
    m.textContent = text.slice(start, end);
    out.append(m);
    at = end;
  }
  out.append(document.createTextNode(text.slice(at)));
  return out;
}

const plain = (snippet) => snippet.replace(/<\/?mark>/g, "");
const safeUrl = (url) => (typeof url === "string" && /^https?:\/\//i.test(url) ? url : null);

function postLink(path, text) {
  const a = document.createElement("a");
  const p = new URLSearchParams({ path });
  if (state.q) p.set("q", state.q);
  if (LANG === "en" && new URLSearchParams(location.search).get("lang")) p.set("lang", "en");
  a.href = "/post?" + p;
  a.textContent = text;
  return a;
}

function searchLink(query, exact) {
  const a = document.createElement("a");
  const p = new URLSearchParams({ q: query });
  if (exact) p.set("exact", "1");
  a.href = "/?" + p;
  a.textContent = query;
  a.addEventListener("click", (event) => {
    event.preventDefault();
    newSearch({ q: query, page: 1, exact: Boolean(exact) }, true, true);
  });
  return a;
}

function drawMeant(result) {
  const box = $("meant");
  box.replaceChildren();
  const lines = [];
  if (result.searched) {
    const a = document.createElement("span");
    a.append(T.showing, document.createTextNode(result.searched), " · ", T.instead);
    a.append(searchLink(result.query, true));
    lines.push(a);
  } else if (result.suggestion) {
    const a = document.createElement("span");
    a.className = "suggestion";
    a.append(T.suggest, searchLink(result.suggestion));
    lines.push(a);
  }
  for (const [word, others] of Object.entries(result.synonyms || {})) {
    lines.push(document.createTextNode(T.also(word, others.join("、"))));
  }
  if (result.missing && result.missing.length) lines.push(document.createTextNode(T.missing(result.missing.join(" "))));
  if (result.counted === "some") lines.push(document.createTextNode(T.some));
  lines.forEach((line, i) => {
    if (i) box.append(document.createElement("br"));
    box.append(line);
  });
}

function drawHits(result) {
  const list = $("hits");
  list.replaceChildren();
  list.start = result.hits.length ? result.hits[0].rank : 1;
  for (const hit of result.hits) {
    const li = document.createElement("li");
    li.className = "hit";
    const title = postLink(hit.path, hit.title || hit.path);
    title.className = "title";
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = [(hit.date || "").slice(0, 10), hit.categories.join(" "), hit.path].filter(Boolean).join("  ");
    const url = safeUrl(hit.url);
    if (url) {
      const source = document.createElement("a");
      source.href = url;
      source.rel = "noopener noreferrer";
      source.className = "source";
      source.textContent = T.source;
      meta.append(" ", source);
    }
    const snippet = document.createElement("div");
    snippet.className = "snippet";
    snippet.append(marked(plain(hit.snippet), hit.highlights));
    li.append(title, meta, snippet);
    if (hit.duplicates && hit.duplicates.length) {
      const copies = document.createElement("details");
      copies.className = "copies";
      const head = document.createElement("summary");
      head.textContent = T.copies(hit.duplicates.length);
      copies.append(head);
      for (const path of hit.duplicates) {
        const row = document.createElement("div");
        row.append(postLink(path, path));
        copies.append(row);
      }
      li.append(copies);
    }
    list.append(li);
  }
  const first = result.hits.length ? result.hits[0].rank : 0;
  const last = result.hits.length ? result.hits[result.hits.length - 1].rank : 0;
  $("summary").textContent = result.hits.length
    ? T.summary(first, last, result.total, Math.round(result.took_ms))
    : T.none;
  $("page").textContent = T.page(state.page);
  $("pages").hidden = !result.hits.length;
  $("prev").disabled = state.page <= 1;
  $("next").disabled = last >= result.total;
}

function drawFacets(facets) {
  const box = $("facets");
  box.replaceChildren();
  for (const key of ["categories", "tags", "years"]) {
    const counts = Object.entries(facets[key] || {}).slice(0, 12);
    if (!counts.length && !(key === "years" && state.year)) continue;
    const h = document.createElement("h3");
    h.textContent = T[key];
    box.append(h);
    if (key === "years" && state.year) {
      const all = document.createElement("button");
      all.type = "button";
      all.className = "facet all-years";
      all.textContent = T.allYears;
      all.addEventListener("click", () => newSearch({ year: "", page: 1 }, true));
      box.append(all);
    }
    for (const [value, count] of counts) {
      const b = document.createElement("button");
      b.type = "button";
      const on = key === "years" ? state.year === value : state[key].includes(value);
      b.className = "facet" + (on ? " on" : "");
      b.dataset.facet = key;
      b.textContent = `${value} (${count})`;
      b.addEventListener("click", () => toggle(key, value));
      box.append(b);
    }
  }
}

function toggle(key, value) {
  if (key === "years") {
    newSearch({ year: state.year === value ? "" : value, page: 1 }, true);
    return;
  }
  const list = state[key].slice();
  const at = list.indexOf(value);
  if (at >= 0) list.splice(at, 1); else list.push(value);
  newSearch({ [key]: list, page: 1 }, true);
}

const SVG = "http://www.w3.org/2000/svg";

function svgText(x, y, text, anchor, cls) {
  const t = document.createElementNS(SVG, "text");
  t.setAttribute("x", String(x));
  t.setAttribute("y", String(y));
  t.setAttribute("text-anchor", anchor);
  if (cls) t.setAttribute("class", cls);
  t.textContent = text;
  return t;
}

function lastDay(period) {
  const [y, m] = period.split("-").map(Number);
  return `${period}-${String(new Date(y, m, 0).getDate()).padStart(2, "0")}`;
}

function drawTrend(trend) {
  const svg = $("trend");
  svg.replaceChildren();
  const series = trend.series && trend.series[0];
  const counts = series ? series.counts : [];
  $("chart").hidden = !counts.length;
  if (!counts.length) return;
  const top = Math.max(1, ...counts);
  const left = 36, bottom = 22, width = 640, height = 130, plot = height - bottom - 6;
  const step = (width - left) / counts.length;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("aria-label", T.chartLabel(state.q));
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("d", `M${left} 4 V${height - bottom} H${width}`);
  axis.setAttribute("class", "axis");
  svg.append(axis);
  svg.append(svgText(left - 4, 12, String(top), "end", "tick y-max"));
  svg.append(svgText(left - 4, height - bottom, "0", "end", "tick"));
  svg.append(svgText(10, height / 2, T.posts, "middle", "axis-title y-title"));
  counts.forEach((count, i) => {
    const r = document.createElementNS(SVG, "rect");
    const h = (count / top) * plot;
    r.setAttribute("x", String(left + i * step + 0.5));
    r.setAttribute("y", String(height - bottom - h));
    r.setAttribute("width", String(Math.max(step - 1, 1)));
    r.setAttribute("height", String(Math.max(h, count ? 1 : 0)));
    r.setAttribute("class", "bar");
    r.dataset.period = trend.periods[i];
    const t = document.createElementNS(SVG, "title");
    t.textContent = `${trend.periods[i]}: ${count}`;
    r.append(t);
    r.addEventListener("click", () => {
      const period = trend.periods[i];
      newSearch({ since: `${period}-01`, until: lastDay(period), year: "", page: 1 }, true);
    });
    svg.append(r);
  });
  const marks = counts.length > 2 ? [0, Math.floor(counts.length / 2), counts.length - 1] : [0, counts.length - 1];
  for (const i of [...new Set(marks)]) {
    const anchor = i === 0 ? "start" : i === counts.length - 1 ? "end" : "middle";
    const x = i === 0 ? left : i === counts.length - 1 ? width : left + (i + 0.5) * step;
    svg.append(svgText(x, height - 6, trend.periods[i], anchor, "tick x-tick"));
  }
  $("trend-caption").textContent = `${T.chartLabel(state.q)} · ${T.months} / ${T.posts} · ${T.chartHint}`;
}

// --- asking -------------------------------------------------------------------------------------

let asked = 0;
let pending = null;

async function ask(path, p, signal) {
  const response = await fetch(`${path}?${p}`, { signal });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function run() {
  const mine = ++asked;
  if (pending) pending.abort();
  pending = new AbortController();
  const signal = pending.signal;
  if (!hasSearch()) {
    $("hits").replaceChildren();
    $("summary").textContent = "";
    $("meant").replaceChildren();
    $("facets").replaceChildren();
    $("pages").hidden = true;
    $("chart").hidden = true;
    return;
  }
  try {
    const extra = { page: state.page, facets: "1", collapse: "1" };
    const result = await ask("/api/search", apiParams(extra), signal);
    if (mine !== asked) return; // a newer search was asked meanwhile
    drawMeant(result);
    drawHits(result);
    drawFacets(result.facets || {});
    if (state.q) {
      const trend = await ask("/api/trend", apiParams({ by: "month", q: result.searched || state.q }), signal);
      if (mine === asked) drawTrend(trend);
    } else {
      $("chart").hidden = true;
    }
  } catch (error) {
    if (error.name === "AbortError" || mine !== asked) return;
    $("hits").replaceChildren();
    $("pages").hidden = true;
    $("summary").textContent = T.error + String(error.message || error);
  }
}

function newSearch(changes, push, fill) {
  Object.assign(state, changes);
  if (fill) {
    $("q").value = state.q;
    $("since").value = state.since;
    $("until").value = state.until;
  }
  remember(push);
  run();
}

// --- typing: results as one types, never mid-composition ----------------------------------

let composing = false;
let timer = null;
const DEBOUNCE_MS = 250;

function typed() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (composing) return;
    const q = $("q").value.trim();
    if (q === state.q) return;
    newSearch({ q, page: 1, exact: false }, false);
  }, DEBOUNCE_MS);
}

$("q").addEventListener("compositionstart", () => { composing = true; clearTimeout(timer); });
$("q").addEventListener("compositionend", () => { composing = false; typed(); });
$("q").addEventListener("input", (event) => {
  if (composing || event.isComposing) return;
  typed();
});
$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(timer);
  newSearch({ q: $("q").value.trim(), since: $("since").value, until: $("until").value, year: "", page: 1, exact: false }, true);
});
for (const id of ["since", "until"]) {
  $(id).addEventListener("change", () => newSearch({ [id]: $(id).value, year: "", page: 1 }, true));
}
$("prev").addEventListener("click", () => newSearch({ page: state.page - 1 }, true));
$("next").addEventListener("click", () => newSearch({ page: state.page + 1 }, true));

// --- the post view ------------------------------------------------------------------------------

async function showPost() {
  const p = new URLSearchParams(location.search);
  const path = p.get("path") || "";
  const q = p.get("q") || "";
  $("view-search").hidden = true;
  $("view-post").hidden = false;
  $("q").value = q;
  const back = new URLSearchParams();
  if (q) back.set("q", q);
  $("back").href = "/" + (q ? "?" + back : "");
  try {
    const post = await ask("/api/post", new URLSearchParams(q ? { path, q } : { path }));
    document.title = `${post.title} · searchkit`;
    $("post-title").textContent = post.title || post.path;
    $("post-meta").textContent = [(post.date || "").slice(0, 10), post.categories.join(" "), post.tags.join(" "), post.path].filter(Boolean).join("  ");
    const url = safeUrl(post.url);
    if (url) {
      const a = document.createElement("a");
      a.href = url;
      a.rel = "noopener noreferrer";
      a.textContent = T.source;
      $("post-source").replaceChildren(a);
    }
    $("post-text").replaceChildren(marked(post.text, post.highlights));
  } catch (error) {
    $("post-title").textContent = T.error + String(error.message || error);
    return;
  }
  for (const [id, api, rows] of [
    ["post-similar", "/api/similar", (d) => d.hits.map((h) => [h.path, h.title])],
    ["post-copies", "/api/copies", (d) => d.copies.map((c) => [c.path, c.title])],
  ]) {
    try {
      const data = await ask(api, new URLSearchParams({ path, limit: "5" }));
      const list = $(id).querySelector("ul");
      list.replaceChildren();
      for (const [other, title] of rows(data)) {
        const li = document.createElement("li");
        li.append(postLink(other, title || other));
        list.append(li);
      }
      $(id).hidden = !list.children.length;
    } catch (error) {
      $(id).hidden = true;
    }
  }
}

// on a phone the facets are folded above the results
if (window.matchMedia && window.matchMedia("(max-width: 700px)").matches) $("filters").open = false;

if (location.pathname === "/post") {
  showPost();
} else {
  fromAddress();
  run();
  window.addEventListener("popstate", () => { fromAddress(); run(); });
}
