// Draws each scenario's timeline from its JSON (see timeline.go) as SVG.
(function () {
	"use strict";
	var NS = "http://www.w3.org/2000/svg";
	var W = 1200, LABEL = 270, RIGHT = 16;
	var LANE = 24, GROUP = 16, MARK = 16, AXIS = 26;
	var COLOR = { ok: "#2e9d4f", failed: "#d33a2c", unknown: "#e8a200", rto: "#2f6fd6", split: "#8e44ad", mark: "#6e7781" };
	var HOLDERS = ["#2f6fd6", "#8e44ad", "#1b998b", "#c2185b", "#795548", "#546e7a"];

	function el(name, attrs, parent, text) {
		var e = document.createElementNS(NS, name);
		for (var k in attrs) {
			if (Object.prototype.hasOwnProperty.call(attrs, k)) {
				e.setAttribute(k, attrs[k]);
			}
		}
		if (text !== undefined) {
			e.textContent = text;
		}
		if (parent) {
			parent.appendChild(e);
		}
		return e;
	}

	function title(parent, text) {
		el("title", {}, parent, text);
	}

	// fmt formats milliseconds as seconds for the axis and labels.
	function fmt(ms, step) {
		var s = ms / 1000;
		var digits = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
		return s.toFixed(digits) + "s";
	}

	// tickStep picks 1, 2 or 5 × 10^k ms so that ticks are ~110 px apart.
	function tickStep(span, px) {
		var raw = span / Math.max(1, px / 110);
		var p = Math.pow(10, Math.floor(Math.log10(raw)));
		var steps = [1, 2, 5, 10];
		for (var i = 0; i < steps.length; i++) {
			if (steps[i] * p >= raw) {
				return steps[i] * p;
			}
		}
		return 10 * p;
	}

	function truncate(s, n) {
		return s.length > n ? s.slice(0, n - 1) + "…" : s;
	}

	// merge joins intervals (in px) closer than a pixel.
	function merge(iv) {
		iv.sort(function (a, b) { return a[0] - b[0]; });
		var out = [];
		for (var i = 0; i < iv.length; i++) {
			var last = out[out.length - 1];
			if (last && iv[i][0] <= last[1] + 1) {
				last[1] = Math.max(last[1], iv[i][1]);
			} else {
				out.push([iv[i][0], iv[i][1]]);
			}
		}
		return out;
	}

	// faultRange is the zoomed view: 2 s before the first fault or RTO
	// start to 3 s after the last RTO or fault end.
	function faultRange(d) {
		var from = Infinity, to = -Infinity;
		d.faults.forEach(function (f) { from = Math.min(from, f.from); to = Math.max(to, Math.min(f.to, f.from + 30000)); });
		if (d.rto) {
			from = Math.min(from, d.rto.from);
			to = Math.max(to, d.rto.to);
		}
		d.splits.forEach(function (s) { from = Math.min(from, s.from); to = Math.max(to, s.to); });
		if (from === Infinity) {
			return null;
		}
		return [Math.max(0, from - 2000), Math.min(Math.max(d.end, to), to + 3000)];
	}

	function draw(box, d, t0, t1) {
		box.textContent = "";
		if (t1 <= t0) {
			t1 = t0 + 1000;
		}
		var plotW = W - LABEL - RIGHT;
		var x = function (t) { return LABEL + (t - t0) / (t1 - t0) * plotW; };
		var clampX = function (t) { return Math.max(LABEL, Math.min(W - RIGHT, x(t))); };
		var paths = d.lanes.filter(function (l) { return l.group === "path"; }).length;
		var nodes = d.lanes.length - paths;
		// Rows: marks (RTO, split brain, other marks), the VIP holder,
		// the path lanes, the node lanes, the axis.
		var markRows = (d.rto ? 1 : 0) + (d.splits.length ? 1 : 0) + (d.marks.length ? 1 : 0);
		var y = 6;
		var marksY = y;
		y += markRows * MARK + (markRows ? 6 : 0);
		var vipY = -1;
		if (d.vip.length) {
			vipY = y;
			y += LANE;
		}
		var eventsY = y;
		var lanesTop = y;
		var laneY = [];
		var groupY = {};
		if (paths) {
			groupY.path = y;
			y += GROUP;
		}
		for (var i = 0; i < d.lanes.length; i++) {
			if (i === paths && nodes) {
				groupY.node = y;
				y += GROUP;
			}
			laneY.push(y);
			y += LANE;
		}
		var lanesBottom = y;
		var H = y + AXIS;
		var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "timeline of " + d.name, "class": "tl", "data-scenario": d.name }, box);
		var defs = el("defs", {}, svg);
		var pat = el("pattern", { id: "hatch-" + box.dataset.for, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
		el("rect", { width: 6, height: 6, fill: "rgba(142,68,173,0.10)" }, pat);
		el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "rgba(142,68,173,0.45)", "stroke-width": 2 }, pat);
		var clip = el("clipPath", { id: "clip-" + box.dataset.for }, defs);
		el("rect", { x: LABEL, y: 0, width: plotW, height: H }, clip);

		// Lane stripes and labels.
		for (i = 0; i < d.lanes.length; i++) {
			el("rect", { x: LABEL, y: laneY[i], width: plotW, height: LANE, fill: i % 2 ? "#ffffff" : "#f6f8fa" }, svg);
			var lt = el("text", { x: LABEL - 8, y: laneY[i] + LANE / 2 + 4, "text-anchor": "end" }, svg, truncate(d.lanes[i].name, 42));
			title(lt, d.lanes[i].name);
			el("line", { x1: LABEL, x2: W - RIGHT, y1: laneY[i] + LANE / 2, y2: laneY[i] + LANE / 2, stroke: "#e6e9ec" }, svg);
		}
		if (groupY.path !== undefined) {
			el("text", { x: 8, y: groupY.path + 11, "class": "group" }, svg, "BY PATH");
		}
		if (groupY.node !== undefined) {
			el("text", { x: 8, y: groupY.node + 11, "class": "group" }, svg, "BY NODE THAT ANSWERED");
		}

		// Grid and axis.
		var step = tickStep(t1 - t0, plotW);
		for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
			el("line", { x1: x(t), x2: x(t), y1: marksY, y2: lanesBottom, stroke: "#d8dee4", "stroke-dasharray": "2,3" }, svg);
			el("text", { x: x(t), y: lanesBottom + 16, "text-anchor": "middle", "class": "muted" }, svg, fmt(t, step));
		}
		el("line", { x1: LABEL, x2: W - RIGHT, y1: lanesBottom, y2: lanesBottom, stroke: "#8c959f" }, svg);

		var plot = el("g", { "clip-path": "url(#clip-" + box.dataset.for + ")" }, svg);
		// Bands across the lanes: faults, split brain.
		d.faults.forEach(function (f) {
			var r = el("rect", { x: x(f.from), y: lanesTop, width: Math.max(1, x(f.to) - x(f.from)), height: lanesBottom - lanesTop, fill: "rgba(211,58,44,0.12)" }, plot);
			title(r, f.label + " (" + fmt(f.from, 1) + " → " + fmt(f.to, 1) + ")");
			el("line", { x1: x(f.from), x2: x(f.from), y1: lanesTop, y2: lanesBottom, stroke: COLOR.failed, "stroke-width": 1.5 }, plot);
			el("text", { x: x(f.from) + 4, y: lanesTop + 11, fill: COLOR.failed }, plot, f.label);
		});
		d.splits.forEach(function (s) {
			var r = el("rect", { x: x(s.from), y: lanesTop, width: Math.max(2, x(s.to) - x(s.from)), height: lanesBottom - lanesTop, fill: "url(#hatch-" + box.dataset.for + ")" }, plot);
			title(r, s.label + " (" + fmt(s.to - s.from, 1) + ")");
		});

		// Mark rows.
		var row = 0;
		function markBar(spans, color, withLabel) {
			var ry = marksY + row * MARK;
			el("text", { x: LABEL - 8, y: ry + 11, "text-anchor": "end", "class": "muted" }, svg, withLabel);
			spans.forEach(function (s) {
				var x0 = clampX(s.from), x1 = clampX(s.to);
				var r = el("rect", { x: x0, y: ry + 2, width: Math.max(2, x1 - x0), height: MARK - 5, rx: 2, fill: color, opacity: 0.85 }, svg);
				title(r, s.label + " (" + fmt(s.from, 1) + " → " + fmt(s.to, 1) + ")");
				// The label right of the bar, or left of it near the edge.
				var right = x1 + 8 + 6.2 * s.label.length <= W - RIGHT;
				el("text", { x: right ? x1 + 4 : Math.max(x0 - 4, LABEL + 4), y: ry + 11, "text-anchor": right ? "start" : "end" }, svg, s.label);
			});
			row++;
		}
		if (d.rto) {
			markBar([d.rto], COLOR.rto, "RTO");
			[d.rto.from, d.rto.to].forEach(function (t) {
				el("line", { x1: x(t), x2: x(t), y1: marksY, y2: lanesBottom, stroke: COLOR.rto, "stroke-dasharray": "4,3" }, plot);
			});
		}
		if (d.splits.length) {
			markBar(d.splits, COLOR.split, "split brain");
		}
		if (d.marks.length) {
			markBar(d.marks, COLOR.mark, "marks");
		}

		// VIP holder.
		if (vipY >= 0) {
			el("text", { x: LABEL - 8, y: vipY + LANE / 2 + 4, "text-anchor": "end" }, svg, "VIP held by");
			var colors = {};
			d.vip.forEach(function (v) {
				if (!(v.label in colors)) {
					colors[v.label] = v.label === "nobody" ? "#d0d7de" : HOLDERS[Object.keys(colors).length % HOLDERS.length];
				}
				var x0 = clampX(v.from), x1 = clampX(v.to);
				if (x1 <= x0) {
					return;
				}
				var r = el("rect", { x: x0, y: vipY + 3, width: x1 - x0, height: LANE - 6, fill: colors[v.label], opacity: 0.8 }, svg);
				title(r, "VIP on " + v.label + " from " + fmt(v.from, 1) + " to " + fmt(v.to, 1));
				if (x1 - x0 > 40) {
					el("text", { x: x0 + 5, y: vipY + LANE / 2 + 4, fill: "#fff" }, svg, v.label);
				}
			});
		}

		// Operations, per lane: acknowledged ones as ticks binned per
		// pixel column, failed ones as red ticks, unknown ones as amber
		// bars from invocation to when the client gave up.
		var cols = Math.ceil(plotW);
		var bins = d.lanes.map(function () { return { w: {}, r: {}, f: {}, u: [] }; });
		d.ops.forEach(function (o) {
			var inv = o[2], cmp = o[3], kind = o[4], out = o[5];
			if (cmp < t0 || inv > t1) {
				return;
			}
			[o[0], o[1]].forEach(function (li) {
				var b = bins[li];
				if (out === 2) {
					b.u.push([clampX(inv), clampX(cmp)]);
					return;
				}
				var c = Math.floor(clampX(cmp));
				var m = out === 1 ? b.f : kind === 0 ? b.w : b.r;
				m[c] = (m[c] || 0) + 1;
			});
		});
		bins.forEach(function (b, li) {
			var ly = laneY[li], g = el("g", {}, plot);
			merge(b.u).forEach(function (s) {
				el("rect", { x: s[0], y: ly + LANE / 2 - 3, width: Math.max(2, s[1] - s[0]), height: 6, fill: COLOR.unknown, opacity: 0.85 }, g);
			});
			Object.keys(b.w).forEach(function (c) {
				el("rect", { x: c, y: ly + 4, width: 1.3, height: LANE / 2 - 5, fill: COLOR.ok }, g);
			});
			Object.keys(b.r).forEach(function (c) {
				el("rect", { x: c, y: ly + LANE / 2 + 1, width: 1.3, height: LANE / 2 - 5, fill: COLOR.ok, opacity: 0.7 }, g);
			});
			Object.keys(b.f).forEach(function (c) {
				el("rect", { x: c - 0.5, y: ly + 3, width: 2, height: LANE - 6, fill: COLOR.failed }, g);
			});
		});

		// Promotions, demotions, notes.
		d.events.forEach(function (e) {
			var color = e.kind === "promotion" ? "#116329" : e.kind === "demotion" ? "#57606a" : "#8c959f";
			var ln = el("line", { x1: x(e.at), x2: x(e.at), y1: eventsY, y2: lanesBottom, stroke: color, "stroke-width": 1.5, "stroke-dasharray": e.kind === "note" ? "2,2" : "" }, plot);
			title(ln, e.label + " at " + fmt(e.at, 1));
			var tx = el("text", { x: x(e.at) + 3, y: eventsY + (paths ? 11 : -3), fill: color }, plot, truncate(e.label, 40));
			title(tx, e.label);
		});

		// A readout of the time under the pointer.
		var cursor = el("line", { x1: -10, x2: -10, y1: marksY, y2: lanesBottom, stroke: "#24292f", opacity: 0.35 }, svg);
		var readout = box.parentNode.querySelector(".readout");
		svg.addEventListener("mousemove", function (ev) {
			var rect = svg.getBoundingClientRect();
			var px = (ev.clientX - rect.left) / rect.width * W;
			if (px < LABEL || px > W - RIGHT) {
				return;
			}
			var t = t0 + (px - LABEL) / plotW * (t1 - t0);
			cursor.setAttribute("x1", px);
			cursor.setAttribute("x2", px);
			if (readout) {
				readout.textContent = "t = " + (t / 1000).toFixed(3) + "s";
			}
		});
		return svg;
	}

	function setup(section) {
		var id = section.id;
		var box = section.querySelector(".timeline");
		if (!box) {
			return;
		}
		var d = JSON.parse(document.getElementById("data-" + id).textContent);
		var all = [0, Math.max(d.end, 1)];
		var zoom = faultRange(d);
		var buttons = section.querySelectorAll("button[data-zoom]");
		function show(which) {
			var r = which === "fault" && zoom ? zoom : all;
			draw(box, d, r[0], r[1]);
			buttons.forEach(function (b) { b.classList.toggle("on", b.dataset.zoom === which); });
		}
		buttons.forEach(function (b) {
			if (b.dataset.zoom === "fault" && !zoom) {
				b.disabled = true;
			}
			b.addEventListener("click", function () { show(b.dataset.zoom); });
		});
		show("all");
		var det = section.querySelector("details.porcupine");
		if (det) {
			det.addEventListener("toggle", function () {
				var frame = det.querySelector("iframe");
				if (det.open && !frame.srcdoc) {
					var bin = atob(det.dataset.b64);
					var bytes = new Uint8Array(bin.length);
					for (var i = 0; i < bin.length; i++) {
						bytes[i] = bin.charCodeAt(i);
					}
					frame.srcdoc = new TextDecoder("utf-8").decode(bytes);
				}
			});
		}
	}

	try {
		document.querySelectorAll("section.scenario").forEach(setup);
		document.body.dataset.rendered = "ok";
	} catch (err) {
		document.body.dataset.rendered = "error";
		var p = document.getElementById("render-error");
		p.hidden = false;
		p.textContent = "The timelines could not be drawn: " + err;
		throw err;
	}
})();
