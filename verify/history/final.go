package history

import "sort"

// FinalState is what every node holds after the scenario healed: read
// from each node directly (not through a VIP or proxy), once replication
// had the time to converge.
type FinalState struct {
	Nodes []NodeState `json:"nodes"`
}

// NodeState is one node's data after the heal.
type NodeState struct {
	Node string `json:"node"`
	// Error says why the node could not be read; its rows are then not
	// compared (and the results say so).
	Error string `json:"error,omitempty"`
	// Rows of the history's table: key → value.
	Rows map[string]string `json:"rows"`
	// Tables of the application, by qualified name.
	Tables map[string]TableState `json:"tables,omitempty"`
}

// TableState sums up one table on one node.
type TableState struct {
	// Checksum of the whole table in primary-key order (for example
	// md5(string_agg(t::text, ',' ORDER BY pk))).
	Checksum string `json:"checksum"`
	Rows     int    `json:"rows"`
	// RowHashes, when given, is primary key → hash of the row, so that a
	// divergence can name the keys.
	RowHashes map[string]string `json:"rowHashes,omitempty"`
}

// readable is the nodes that could be read, sorted by name.
func (f FinalState) readable() []NodeState {
	var out []NodeState
	for _, n := range f.Nodes {
		if n.Error == "" {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// unreadable lists the nodes that could not be read, sorted.
func (f FinalState) unreadable() []string {
	var out []string
	for _, n := range f.Nodes {
		if n.Error != "" {
			out = append(out, n.Node)
		}
	}
	sort.Strings(out)
	return out
}
