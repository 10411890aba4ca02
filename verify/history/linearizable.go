package history

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// LinearizabilityOptions configure the porcupine check.
type LinearizabilityOptions struct {
	// Timeout bounds the check (all keys together); when it runs out
	// before every key was decided the result is "unknown", never "ok".
	// The visualization, when written, gets the same budget again.
	// Default 30s.
	Timeout time.Duration
	// Visualize writes porcupine's HTML page even when the history is
	// linearizable (it is always written when it is not).
	Visualize bool
	// FinalReads adds each node's final value of every key as a read
	// after the end of the history, so that the state left behind must
	// agree with the linearization too (synchronous mode: it must).
	FinalReads bool
	// MaxVisualizedKeys caps the keys drawn (the keys that failed first).
	// Default 16.
	MaxVisualizedKeys int
}

// Linearizability is porcupine's verdict on the keyed reads and writes,
// modelled as one register per key (porcupine's partitioned key-value
// model): a write sets the key's value, a read returns the current value
// or finds no row.
//
// Only operations that carry information take part: acknowledged writes
// and reads, and writes of unknown outcome, which porcupine places
// anywhere after their invocation: their return is set to the end of the
// history (after the final reads), so that they may take effect late or,
// equivalently, never. Failed writes (certainly not applied) and reads
// without an answer are left out.
type Linearizability struct {
	Finding
	// Result is "ok", "illegal" or "unknown" (the timeout ran out).
	Result string `json:"result"`
	Keys   int    `json:"keys"`
	Ops    int    `json:"ops"`
	// Checked counts the keys decided; IllegalKeys lists those that are
	// not linearizable (sorted), Unchecked those the timeout left.
	Checked     int      `json:"checked"`
	IllegalKeys []string `json:"illegalKeys,omitempty"`
	Unchecked   int      `json:"unchecked"`
	// TookMillis is how long the check ran.
	TookMillis int64 `json:"tookMs"`
	// VisualizedKeys are the keys drawn in Visualization.
	VisualizedKeys []string `json:"visualizedKeys,omitempty"`
	// Visualization is porcupine's self-contained HTML page, when written.
	Visualization []byte `json:"-"`
	// VisualizationError says why the page could not be written.
	VisualizationError string `json:"visualizationError,omitempty"`
}

// Name is "linearizable".
func (*Linearizability) Name() string { return "linearizable" }

type regInput struct {
	write bool
	value string
}

type regOutput struct {
	absent  bool
	value   string
	unknown bool // a write of unknown outcome
}

type regState struct {
	present bool
	value   string
}

type opMeta struct {
	client, path, server string
}

// registerModel is a register per key; partitioned by key when
// partitioned is set (for the visualization of several keys).
func registerModel(partitioned bool) porcupine.Model {
	m := porcupine.Model{
		Init: func() any { return regState{} },
		Step: func(state, input, output any) (bool, any) {
			st, in, out := state.(regState), input.(regInput), output.(regOutput)
			if in.write {
				return true, regState{present: true, value: in.value}
			}
			if out.absent {
				return !st.present, st
			}
			return st.present && st.value == out.value, st
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(regInput), output.(regOutput)
			switch {
			case in.write && out.unknown:
				return fmt.Sprintf("write(%s) ?", in.value)
			case in.write:
				return fmt.Sprintf("write(%s)", in.value)
			case out.absent:
				return "read() → absent"
			}
			return fmt.Sprintf("read() → %s", out.value)
		},
		DescribeState: func(state any) string {
			if st := state.(regState); st.present {
				return st.value
			}
			return "absent"
		},
		DescribeOperationMetadata: func(info any) string {
			m, ok := info.(keyed)
			if !ok {
				return ""
			}
			s := m.client + " via " + m.path
			if m.server != "" {
				s += ", served by " + m.server
			}
			return s
		},
	}
	if partitioned {
		m.Partition = func(h []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, o := range h {
				k := o.Metadata.(keyed).key
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], o)
			}
			sort.Strings(keys)
			out := make([][]porcupine.Operation, len(keys))
			for i, k := range keys {
				out[i] = byKey[k]
			}
			return out
		}
	}
	return m
}

// keyed is the metadata of every porcupine operation built here.
type keyed struct {
	opMeta
	key string
}

// porcupineOps turns the history into porcupine operations per key.
func porcupineOps(h History, final FinalState, finalReads bool) (map[string][]porcupine.Operation, []string) {
	end := int64(h.End())
	// Client ids: one per client, and a fresh one after each unknown
	// operation (the client's later operations overlap it), as Jepsen
	// gives a crashed process a new number.
	ids := map[string]int{}
	next := 0
	byKey := map[string][]porcupine.Operation{}
	add := func(key string, o porcupine.Operation) { byKey[key] = append(byKey[key], o) }
	for _, o := range h.Ops {
		id, ok := ids[o.Client]
		if !ok {
			id, next = next, next+1
			ids[o.Client] = id
		}
		meta := keyed{opMeta{client: o.Client, path: o.Path.String(), server: o.Server.Identity()}, o.Key}
		switch {
		case o.Kind == Write && o.Outcome == OK:
			add(o.Key, porcupine.Operation{ClientId: id, Input: regInput{true, o.Value}, Output: regOutput{}, Call: int64(o.Invoke), Return: int64(o.Complete), Metadata: meta})
		case o.Kind == Write && o.Outcome == Unknown:
			add(o.Key, porcupine.Operation{ClientId: id, Input: regInput{true, o.Value}, Output: regOutput{unknown: true}, Call: int64(o.Invoke), Return: end + 3, Metadata: meta})
			ids[o.Client], next = next, next+1
		case o.Kind == Read && o.Outcome == OK:
			add(o.Key, porcupine.Operation{ClientId: id, Input: regInput{}, Output: regOutput{absent: o.Absent, value: o.Value}, Call: int64(o.Invoke), Return: int64(o.Complete), Metadata: meta})
		}
	}
	if finalReads {
		for _, n := range final.readable() {
			id := next
			next++
			for key := range byKey {
				v, ok := n.Rows[key]
				meta := keyed{opMeta{client: "final state", path: "direct " + n.Node, server: n.Node}, key}
				add(key, porcupine.Operation{ClientId: id, Input: regInput{}, Output: regOutput{absent: !ok, value: v}, Call: end + 1, Return: end + 2, Metadata: meta})
			}
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return byKey, keys
}

// CheckLinearizable checks the history's keyed reads and writes with
// porcupine. Check calls it when Options.Linearizability is set.
func CheckLinearizable(h History, final FinalState, opt LinearizabilityOptions) Linearizability {
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.MaxVisualizedKeys <= 0 {
		opt.MaxVisualizedKeys = 16
	}
	byKey, keys := porcupineOps(h, final, opt.FinalReads)
	r := Linearizability{Keys: len(keys)}
	for _, k := range keys {
		r.Ops += len(byKey[k])
	}
	model := registerModel(false)
	start := time.Now()
	for _, k := range keys {
		left := opt.Timeout - time.Since(start)
		if left <= 0 {
			r.Unchecked++
			continue
		}
		switch porcupine.CheckOperationsTimeout(model, byKey[k], left) {
		case porcupine.Ok:
			r.Checked++
		case porcupine.Illegal:
			r.Checked++
			r.IllegalKeys = append(r.IllegalKeys, k)
		default:
			r.Unchecked++
		}
	}
	r.TookMillis = time.Since(start).Milliseconds()
	switch {
	case len(r.IllegalKeys) > 0:
		r.Result = "illegal"
		r.Finding = Finding{Violation, fmt.Sprintf("not linearizable: %s of %d (%s)", plural(len(r.IllegalKeys), "key", "keys"), r.Keys, listCapped(r.IllegalKeys, 5))}
	case r.Unchecked > 0:
		r.Result = "unknown"
		r.Finding = Finding{Inconclusive, fmt.Sprintf("undecided: the %s timeout left %d of %d keys unchecked", opt.Timeout, r.Unchecked, r.Keys)}
	case r.Keys == 0:
		r.Result = "ok"
		r.Finding = Finding{NotChecked, "no keyed operations"}
	default:
		r.Result = "ok"
		r.Finding = Finding{Pass, fmt.Sprintf("linearizable (%s, %s)", plural(r.Keys, "key", "keys"), plural(r.Ops, "operation", "operations"))}
	}
	if r.Unchecked > 0 && r.Result == "illegal" {
		r.Line += fmt.Sprintf("; %d keys left unchecked", r.Unchecked)
	}
	if len(r.IllegalKeys) > 0 || opt.Visualize {
		r.visualize(byKey, keys, h, opt)
	}
	return r
}

func (r *Linearizability) visualize(byKey map[string][]porcupine.Operation, keys []string, h History, opt LinearizabilityOptions) {
	show := append([]string(nil), r.IllegalKeys...)
	for _, k := range keys {
		if len(show) >= opt.MaxVisualizedKeys {
			break
		}
		if !contains(show, k) {
			show = append(show, k)
		}
	}
	if len(show) > opt.MaxVisualizedKeys {
		show = show[:opt.MaxVisualizedKeys]
	}
	sort.Strings(show)
	var ops []porcupine.Operation
	for _, k := range show {
		ops = append(ops, byKey[k]...)
	}
	model := registerModel(true)
	_, info := porcupine.CheckOperationsVerbose(model, ops, opt.Timeout)
	var notes []porcupine.Annotation
	for _, e := range h.Events {
		desc := string(e.Kind)
		if e.Node != "" {
			desc += " " + e.Node
		}
		notes = append(notes, porcupine.Annotation{Tag: "events", Start: int64(e.At), Description: desc, Details: e.Detail})
	}
	info.AddAnnotations(notes)
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		r.VisualizationError = err.Error()
		return
	}
	r.Visualization = buf.Bytes()
	r.VisualizedKeys = show
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func listCapped(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(", … %d more", len(list)-n)
}
