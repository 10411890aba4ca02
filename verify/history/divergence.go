package history

import (
	"fmt"
	"sort"
	"strings"
)

// Divergence compares the nodes' final states after the heal: the
// history table row by row, and each application table by checksum (and
// by row hash, when the rows' hashes were read, to name the keys).
// Every difference is a violation in every mode: after the heal the
// nodes must hold the same data.
type Divergence struct {
	Finding
	Nodes        []string `json:"nodes"`
	NodesNotRead []string `json:"nodesNotRead,omitempty"`
	// Rows: the history table's keys that differ between nodes.
	Rows TableDivergence `json:"rows"`
	// Tables: one entry per application table, sorted by name.
	Tables []TableDivergence `json:"tables,omitempty"`
}

// TableDivergence is one table's comparison.
type TableDivergence struct {
	Table string `json:"table"`
	Equal bool   `json:"equal"`
	// Checksums and Rows per node (application tables only).
	Checksums map[string]string `json:"checksums,omitempty"`
	RowCounts map[string]int    `json:"rowCounts,omitempty"`
	// DifferingKeys counts the keys whose rows differ (missing on some
	// node, or different); Keys lists them, capped, sorted.
	DifferingKeys int       `json:"differingKeys"`
	Keys          []KeyDiff `json:"keys,omitempty"`
}

// KeyDiff is one differing key and each node's value or row hash
// ("(absent)" when missing).
type KeyDiff struct {
	Key    string            `json:"key"`
	Values map[string]string `json:"values"`
}

// Name is "divergence".
func (*Divergence) Name() string { return "divergence" }

func checkDivergence(final FinalState, opt Options) Divergence {
	nodes := final.readable()
	r := Divergence{NodesNotRead: final.unreadable()}
	for _, n := range nodes {
		r.Nodes = append(r.Nodes, n.Node)
	}
	rows := make([]map[string]string, len(nodes))
	for i, n := range nodes {
		rows[i] = n.Rows
	}
	r.Rows = compareRows("history rows", r.Nodes, rows, opt.MaxListed)
	tables := map[string]bool{}
	for _, n := range nodes {
		for t := range n.Tables {
			tables[t] = true
		}
	}
	var names []string
	for t := range tables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		td := TableDivergence{Table: t, Checksums: map[string]string{}, RowCounts: map[string]int{}}
		hashes := make([]map[string]string, len(nodes))
		haveHashes := true
		sums := map[string]bool{}
		for i, n := range nodes {
			ts, ok := n.Tables[t]
			if !ok {
				td.Checksums[n.Node] = "(absent)"
				sums["(absent)"] = true
				haveHashes = false
				continue
			}
			td.Checksums[n.Node], td.RowCounts[n.Node] = ts.Checksum, ts.Rows
			sums[ts.Checksum] = true
			hashes[i] = ts.RowHashes
			if ts.RowHashes == nil {
				haveHashes = false
			}
		}
		td.Equal = len(sums) <= 1
		if haveHashes {
			byKey := compareRows(t, r.Nodes, hashes, opt.MaxListed)
			td.DifferingKeys, td.Keys = byKey.DifferingKeys, byKey.Keys
			td.Equal = td.Equal && byKey.Equal
		}
		r.Tables = append(r.Tables, td)
	}
	var bad []string
	if !r.Rows.Equal {
		bad = append(bad, fmt.Sprintf("%s of the history differ", plural(r.Rows.DifferingKeys, "key", "keys")))
	}
	for _, td := range r.Tables {
		if !td.Equal {
			s := td.Table + " checksums differ"
			if td.DifferingKeys > 0 {
				s += fmt.Sprintf(" (%s)", plural(td.DifferingKeys, "key", "keys"))
			}
			bad = append(bad, s)
		}
	}
	switch {
	case len(nodes) < 2:
		r.Finding = Finding{NotChecked, fmt.Sprintf("%s read, nothing to compare", plural(len(nodes), "node", "nodes"))}
	case len(bad) > 0:
		r.Finding = Finding{Violation, strings.Join(bad, "; ") + " between " + strings.Join(r.Nodes, ", ")}
	default:
		r.Finding = Finding{Pass, fmt.Sprintf("equal on %s (%s)", strings.Join(r.Nodes, ", "), plural(len(r.Tables)+1, "table", "tables"))}
	}
	if len(r.NodesNotRead) > 0 {
		r.Line += "; not read: " + strings.Join(r.NodesNotRead, ", ")
	}
	return r
}

// compareRows compares key → value maps of the nodes, listing the keys
// that are not the same everywhere.
func compareRows(table string, nodes []string, rows []map[string]string, maxListed int) TableDivergence {
	td := TableDivergence{Table: table, Equal: true}
	keys := map[string]bool{}
	for _, m := range rows {
		for k := range m {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		vals := map[string]string{}
		distinct := map[string]bool{}
		for i, m := range rows {
			v, ok := m[k]
			if !ok {
				v = "(absent)"
			}
			vals[nodes[i]] = v
			distinct[v] = true
		}
		if len(distinct) > 1 {
			td.Equal = false
			td.DifferingKeys++
			if len(td.Keys) < maxListed {
				td.Keys = append(td.Keys, KeyDiff{Key: k, Values: vals})
			}
		}
	}
	return td
}
