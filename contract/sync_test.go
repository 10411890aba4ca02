package contract

import "testing"

func TestSyncStandbyNames(t *testing.T) {
	for _, c := range []struct {
		method string
		count  int
		names  []string
		want   string
	}{
		{"first", 1, []string{"db1"}, `FIRST 1 ("db1")`},
		{"", 1, []string{"db1", "db2"}, `FIRST 1 ("db1", "db2")`},
		{"any", 1, []string{"db1", "db2"}, `ANY 1 ("db1", "db2")`},
		{"any", 2, []string{"db1", "db2", "db3"}, `ANY 2 ("db1", "db2", "db3")`},
		// Never more than there are names, never less than one.
		{"any", 3, []string{"db1", "db2"}, `ANY 2 ("db1", "db2")`},
		{"first", 0, []string{"db1"}, `FIRST 1 ("db1")`},
		{"any", 1, nil, ``},
	} {
		if got := SyncStandbyNames(c.method, c.count, c.names); got != c.want {
			t.Errorf("SyncStandbyNames(%q, %d, %q) = %q, want %q", c.method, c.count, c.names, got, c.want)
		}
		if got, want := SyncCount(SyncStandbyNames(c.method, c.count, c.names)), min(max(c.count, 1), len(c.names)); got != want {
			t.Errorf("SyncCount of %q = %d, want %d", SyncStandbyNames(c.method, c.count, c.names), got, want)
		}
	}
	for value, want := range map[string]int{"": 0, "  ": 0, "db1": 1, "db1, db2": 1, "*": 1, "any 2 (a, b)": 2, "FIRST 3(a,b,c)": 3} {
		if got := SyncCount(value); got != want {
			t.Errorf("SyncCount(%q) = %d, want %d", value, got, want)
		}
	}
}
