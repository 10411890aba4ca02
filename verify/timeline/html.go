package timeline

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/verify/history"
)

//go:embed assets/page.html.tmpl
var pageTemplate string

//go:embed assets/page.css
var pageCSS string

//go:embed assets/page.js
var pageJS string

// page is parsed on first use: every hagen command initialises this
// package, and only verify writes pages.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"seconds": func(d time.Duration) string { return budget.Seconds(d) },
	}).Parse(pageTemplate))
})

// WriteHTML writes the run as one self-contained HTML page.
func WriteHTML(w io.Writer, run Run) error {
	v := pageView{Title: run.Title, Spec: run.Spec, Mode: run.Mode,
		CSS: template.CSS(pageCSS), JS: template.JS(pageJS)}
	for i, s := range run.Scenarios {
		sv, err := scenarioView(i, s)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		v.Scenarios = append(v.Scenarios, sv)
		v.Tally[statusIndex(s.Status)]++
	}
	var buf bytes.Buffer
	if err := page().Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func statusIndex(s string) int {
	switch s {
	case Passed:
		return 0
	case Failed:
		return 1
	case Skipped:
		return 2
	}
	return 3
}

type pageView struct {
	Title, Spec, Mode string
	CSS               template.CSS
	JS                template.JS
	Scenarios         []scenarioSection
	// Tally: passed, failed, skipped, not run.
	Tally [4]int
}

type scenarioSection struct {
	ID          string
	Name        string
	Description string
	Status      string
	Failure     string
	Results     []resultRow
	RTO         *RTO
	RTOExceeded bool
	PGBench     *pgbenchView
	Notes       []string
	Ops         int
	// HasTimeline: there is something to draw.
	HasTimeline bool
	// Data is the timeline's JSON, drawn by the script.
	Data template.JS
	// Porcupine is porcupine's page, base64, when the checker wrote one.
	Porcupine     string
	PorcupineKeys string
}

type resultRow struct {
	Name, Summary, Verdict string
}

type pgbenchView struct {
	OK, Failed, Unknown, ConnectFailures, Runs int
	Gap, GapFrom, GapTo                        string
}

func scenarioView(i int, s Scenario) (scenarioSection, error) {
	sv := scenarioSection{ID: fmt.Sprintf("s%d", i+1), Name: s.Name, Description: s.Description, Status: s.Status,
		Failure: s.Failure, RTO: s.RTO, Notes: s.Notes, Ops: len(s.History.Ops)}
	sv.HasTimeline = len(s.History.Ops) > 0 || len(s.History.Events) > 0
	if s.RTO != nil {
		sv.RTOExceeded = s.RTO.Exceeded()
	}
	if s.Results != nil {
		for _, r := range s.Results.List() {
			sv.Results = append(sv.Results, resultRow{r.Name(), r.Summary(), string(r.Verdict())})
		}
		if l := s.Results.Linearizability; l != nil && len(l.Visualization) > 0 {
			sv.Porcupine = base64.StdEncoding.EncodeToString(l.Visualization)
			sv.PorcupineKeys = strings.Join(l.VisualizedKeys, ", ")
		}
	}
	if p := s.PGBench; p != nil {
		sv.PGBench = &pgbenchView{OK: p.OK, Failed: p.Failed, Unknown: p.Unknown, ConnectFailures: p.ConnectFailures, Runs: p.Runs,
			Gap: budget.Seconds(p.LongestGap), GapFrom: budget.Seconds(p.GapFrom), GapTo: budget.Seconds(p.GapTo)}
	}
	data, err := json.Marshal(timelineData(s))
	if err != nil {
		return sv, err
	}
	sv.Data = template.JS(data)
	return sv, nil
}

// The timeline's data as the script reads it. Times are milliseconds
// from the scenario's start, rounded to 0.1 ms.
type tlData struct {
	Name   string    `json:"name"`
	End    float64   `json:"end"`
	Lanes  []tlLane  `json:"lanes"`
	Ops    [][6]any  `json:"ops"` // [pathLane, nodeLane, invoke, complete, kind (0 write, 1 read), outcome (0 ok, 1 failed, 2 unknown)]
	Faults []tlSpan  `json:"faults"`
	VIP    []tlSpan  `json:"vip"`
	Events []tlEvent `json:"events"`
	RTO    *tlSpan   `json:"rto,omitempty"`
	Splits []tlSpan  `json:"splits"`
	Marks  []tlSpan  `json:"marks"`
}

type tlLane struct {
	Name  string `json:"name"`
	Group string `json:"group"` // "path" or "node"
}

type tlSpan struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Label string  `json:"label"`
}

type tlEvent struct {
	At    float64 `json:"at"`
	Kind  string  `json:"kind"`
	Label string  `json:"label"`
}

func msf(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

const noAnswer = "(no answer)"

func timelineData(s Scenario) tlData {
	h := s.History
	d := tlData{Name: s.Name, End: msf(h.End()), Ops: [][6]any{}, Faults: []tlSpan{}, VIP: []tlSpan{}, Events: []tlEvent{}, Splits: []tlSpan{}, Marks: []tlSpan{}}
	paths, nodes := map[string]bool{}, map[string]bool{}
	for _, o := range h.Ops {
		paths[o.Path.String()] = true
		nodes[nodeLane(o)] = true
	}
	pathIdx, nodeIdx := map[string]int{}, map[string]int{}
	for _, p := range sortedKeys(paths) {
		pathIdx[p] = len(d.Lanes)
		d.Lanes = append(d.Lanes, tlLane{Name: p, Group: "path"})
	}
	nodeNames := sortedKeys(nodes)
	// "(no answer)" sorts first; draw it last.
	if len(nodeNames) > 0 && nodeNames[0] == noAnswer {
		nodeNames = append(nodeNames[1:], noAnswer)
	}
	for _, n := range nodeNames {
		nodeIdx[n] = len(d.Lanes)
		d.Lanes = append(d.Lanes, tlLane{Name: n, Group: "node"})
	}
	if d.Lanes == nil {
		d.Lanes = []tlLane{}
	}
	for _, o := range h.Ops {
		kind := 0
		if o.Kind == history.Read {
			kind = 1
		}
		out := map[history.Outcome]int{history.OK: 0, history.Failed: 1, history.Unknown: 2}[o.Outcome]
		d.Ops = append(d.Ops, [6]any{pathIdx[o.Path.String()], nodeIdx[nodeLane(o)], msf(o.Invoke), msf(o.Complete), kind, out})
	}
	// Faults: each start up to the next end of the same node (or any end
	// when the start names none), else up to the end of the history.
	used := map[int]bool{}
	for i, e := range h.Events {
		if e.Kind != history.FaultStart {
			continue
		}
		to := h.End()
		for j := i + 1; j < len(h.Events); j++ {
			f := h.Events[j]
			if f.Kind == history.FaultEnd && !used[j] && (e.Node == "" || f.Node == "" || f.Node == e.Node) {
				to, used[j] = f.At, true
				break
			}
		}
		label := e.Detail
		if label == "" {
			label = "fault " + e.Node
		}
		d.Faults = append(d.Faults, tlSpan{msf(e.At), msf(to), label})
	}
	// VIP holder: from each vip event to the next.
	var vips []history.Event
	for _, e := range h.Events {
		if e.Kind == history.VIPHolder {
			vips = append(vips, e)
		}
	}
	for i, e := range vips {
		to := h.End()
		if i+1 < len(vips) {
			to = vips[i+1].At
		}
		holder := e.Node
		if holder == "" {
			holder = "nobody"
		}
		d.VIP = append(d.VIP, tlSpan{msf(e.At), msf(to), holder})
	}
	for _, e := range h.Events {
		switch e.Kind {
		case history.Promotion, history.Demotion, history.Note:
			label := strings.TrimSpace(string(e.Kind) + " " + e.Node)
			if e.Detail != "" {
				label += ": " + e.Detail
			}
			d.Events = append(d.Events, tlEvent{msf(e.At), string(e.Kind), label})
		}
	}
	if r := s.RTO; r != nil {
		label := "RTO " + budget.Seconds(r.Measured)
		if r.Budget.Total > 0 {
			label += " (budget " + budget.Seconds(r.Budget.Total) + ")"
		}
		d.RTO = &tlSpan{msf(r.From), msf(r.To), label}
	}
	if s.Results != nil {
		for _, iv := range s.Results.SplitBrain.Intervals {
			d.Splits = append(d.Splits, tlSpan{msf(iv.From), msf(iv.To), "split brain: " + strings.Join(iv.Writers, " + ")})
		}
	}
	for _, m := range s.Marks {
		d.Marks = append(d.Marks, tlSpan{msf(m.From), msf(m.To), m.Label})
	}
	return d
}

func nodeLane(o history.Op) string {
	if o.Server == nil || o.Server.Node == "" {
		return noAnswer
	}
	n := o.Server.Identity()
	if o.Server.InRecovery != nil && *o.Server.InRecovery {
		n += " (standby)"
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
