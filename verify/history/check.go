package history

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Mode is the replication design a history was recorded against; it
// decides which findings fail a scenario.
type Mode string

const (
	// Synchronous primary-standby: every finding is a violation.
	Synchronous Mode = "synchronous"
	// Asynchronous primary-standby: acknowledged writes may be lost in a
	// failover and a standby may serve stale reads (both reported as
	// allowed); a split brain is still a violation.
	Asynchronous Mode = "asynchronous"
	// MultiMaster (Bucardo): every site accepts writes, so the split-brain
	// window is the whole overlap and is reported as allowed, and so are
	// stale reads across sites; writes the conflict strategy discarded
	// are listed; lost writes (not explained by a conflict) and a
	// divergence after the heal are violations.
	MultiMaster Mode = "multi-master"
)

// Verdict is a finding's effect on the scenario.
type Verdict string

const (
	Pass         Verdict = "pass"         // nothing found
	Violation    Verdict = "violation"    // the scenario fails
	Allowed      Verdict = "allowed"      // found, and allowed by the mode: reported, not failing
	Inconclusive Verdict = "inconclusive" // the check could not decide (never a pass)
	NotChecked   Verdict = "not-checked"  // the check did not run (no data for it)
)

// Options configure Check.
type Options struct {
	Mode Mode
	// MaxListed caps the operations and keys listed in each result's
	// details (the counts are always complete). Default 20.
	MaxListed int
	// ConflictStrategy is Bucardo's conflict_strategy in multi-master
	// mode (bucardo_latest when empty).
	ConflictStrategy string
	// Linearizability runs porcupine when not nil.
	Linearizability *LinearizabilityOptions
}

// Result is one finding of the checker.
type Result interface {
	// Name is the result's short name (the terminal column).
	Name() string
	// Summary is one line for a table.
	Summary() string
	// Verdict is its effect on the scenario.
	Verdict() Verdict
}

// Finding is the part every result shares: its verdict and one-line
// summary, computed when the check ran (so they survive a JSON round
// trip).
type Finding struct {
	Is   Verdict `json:"verdict"`
	Line string  `json:"summary"`
}

// Verdict is the finding's effect on the scenario.
func (f Finding) Verdict() Verdict { return f.Is }

// Summary is the finding in one line.
func (f Finding) Summary() string { return f.Line }

// Results are all the checker's findings on one history. Each field is a
// result with its details; List gives them in a fixed order.
type Results struct {
	Mode            Mode             `json:"mode"`
	Lost            Lost             `json:"lost"`
	Unknown         Unknowns         `json:"unknown"`
	Stale           StaleReads       `json:"staleReads"`
	SplitBrain      SplitBrain       `json:"splitBrain"`
	Divergence      Divergence       `json:"divergence"`
	Conflicts       *Conflicts       `json:"conflicts,omitempty"`
	Linearizability *Linearizability `json:"linearizability,omitempty"`
}

// List is the results in the order of the report.
func (r *Results) List() []Result {
	out := []Result{&r.Lost, &r.Unknown, &r.Stale, &r.SplitBrain, &r.Divergence}
	if r.Conflicts != nil {
		out = append(out, r.Conflicts)
	}
	if r.Linearizability != nil {
		out = append(out, r.Linearizability)
	}
	return out
}

// Failed reports whether any result is a violation or inconclusive.
func (r *Results) Failed() bool {
	for _, x := range r.List() {
		if v := x.Verdict(); v == Violation || v == Inconclusive {
			return true
		}
	}
	return false
}

// Lines is "name: summary [verdict]" per result, for a terminal.
func (r *Results) Lines() []string {
	var out []string
	for _, x := range r.List() {
		out = append(out, fmt.Sprintf("%s: %s [%s]", x.Name(), x.Summary(), x.Verdict()))
	}
	return out
}

// Check runs every check on a history and the final state read after the
// heal. It returns an error only for a malformed history (see Validate).
func Check(h History, final FinalState, opt Options) (Results, error) {
	if err := h.Validate(); err != nil {
		return Results{}, err
	}
	if opt.MaxListed <= 0 {
		opt.MaxListed = 20
	}
	if opt.Mode == "" {
		opt.Mode = Synchronous
	}
	ix := index(h)
	r := Results{Mode: opt.Mode}
	r.Lost = checkLost(ix, final, opt)
	r.Unknown = checkUnknown(ix, final, opt)
	r.Stale = checkStale(ix, opt)
	r.SplitBrain = checkSplitBrain(ix, opt)
	r.Divergence = checkDivergence(final, opt)
	if opt.Mode == MultiMaster {
		c := checkConflicts(ix, final, opt)
		r.Conflicts = &c
	}
	if opt.Linearizability != nil {
		l := CheckLinearizable(h, final, *opt.Linearizability)
		r.Linearizability = &l
	}
	return r, nil
}

// ix indexes a history by key and by written value.
type ix struct {
	h      History
	ops    []Op
	writes map[string][]int       // key → indexes of its writes (any outcome), by invocation
	reads  map[string][]int       // key → indexes of its reads (any outcome)
	byVal  map[[2]string]int      // (key, value) → the write's index
	keys   []string               // every key, sorted
	seen   map[[2]string][]string // (key, value) → evidence it was committed (ok reads)
}

func index(h History) *ix {
	h.Ops, h.Events = slices.Clone(h.Ops), slices.Clone(h.Events)
	h.Normalize()
	keys := map[string]bool{}
	x := &ix{h: h, ops: h.Ops, writes: map[string][]int{}, reads: map[string][]int{}, byVal: map[[2]string]int{}, seen: map[[2]string][]string{}}
	for i, o := range h.Ops {
		keys[o.Key] = true
		switch o.Kind {
		case Write:
			x.writes[o.Key] = append(x.writes[o.Key], i)
			x.byVal[[2]string{o.Key, o.Value}] = i
		case Read:
			x.reads[o.Key] = append(x.reads[o.Key], i)
			if o.Outcome == OK && !o.Absent {
				k := [2]string{o.Key, o.Value}
				x.seen[k] = append(x.seen[k], fmt.Sprintf("read by operation %d at %s", i, ms(o.Complete)))
			}
		}
	}
	for k := range keys {
		x.keys = append(x.keys, k)
	}
	sort.Strings(x.keys)
	return x
}

// writer returns the write of value on key, or nil.
func (x *ix) writer(key, value string) *Op {
	if i, ok := x.byVal[[2]string{key, value}]; ok {
		return &x.ops[i]
	}
	return nil
}

// precedes reports whether a certainly took effect before b was invoked:
// a was acknowledged before b was sent. Only an acknowledged operation
// has a known end; an unknown write may take effect at any time.
func precedes(a, b *Op) bool {
	return a.Outcome == OK && a.Complete < b.Invoke
}

// OpRef identifies an operation in a result's details.
type OpRef struct {
	Index    int           `json:"index"`
	Client   string        `json:"client"`
	Key      string        `json:"key"`
	Value    string        `json:"value,omitempty"`
	Invoke   time.Duration `json:"invokeNs"`
	Complete time.Duration `json:"completeNs"`
	Path     string        `json:"path"`
	Server   string        `json:"server,omitempty"`
}

func ref(o *Op) OpRef {
	r := OpRef{Index: o.Index, Client: o.Client, Key: o.Key, Value: o.Value, Invoke: o.Invoke, Complete: o.Complete, Path: o.Path.String()}
	if o.Server != nil {
		r.Server = o.Server.Identity()
		if o.Server.InRecovery != nil && *o.Server.InRecovery {
			r.Server += " (in recovery)"
		}
	}
	return r
}

// ms formats an offset in milliseconds: "1234.5ms".
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// countsByName formats name → count sorted by name: "db0: 2, db1: 1".
func countsByName(m map[string]int) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
