// Bar charts drawn as SVG: no library, no network. Labels go in as text nodes.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

export function barChart(title, labels, values, { format = (v) => String(v), id } = {}) {
  const width = 640;
  const height = 220;
  const pad = { top: 16, right: 8, bottom: 36, left: 40 };
  const max = Math.max(1, ...values);
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const step = innerW / Math.max(1, values.length);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": title });
  if (id) root.id = id;
  root.append(svg("title", {}, title));
  for (const frac of [0, 0.5, 1]) {
    const y = pad.top + innerH * (1 - frac);
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: pad.left - 4, y: y + 4, class: "axis", "text-anchor": "end" },
      format(Math.round(max * frac * 10) / 10)));
  }
  const every = Math.ceil(values.length / 12);
  values.forEach((value, i) => {
    const barH = (value / max) * innerH;
    const x = pad.left + i * step + step * 0.15;
    const bar = svg("rect", { x, y: pad.top + innerH - barH, width: Math.max(1, step * 0.7),
      height: barH, class: "bar" });
    bar.append(svg("title", {}, `${labels[i]}: ${format(value)}`));
    root.append(bar);
    if (i % every === 0) {
      root.append(svg("text", { x: x + step * 0.35, y: height - pad.bottom + 14, class: "axis",
        "text-anchor": "middle" }, labels[i]));
    }
  });
  const figure = document.createElement("figure");
  figure.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.append(caption, root);
  return figure;
}
