package schema

import "testing"

func TestClientURLIPv6(t *testing.T) {
	for u, ok := range map[string]bool{
		"grpc://[2001:db8::10]:8001":    true,
		"postgres://[2001:db8::10]/x":   true,
		"grpc://[2001:DB8::10]:8001":    false,
		"grpc://[2001:db8:0::10]:8001":  false,
		"grpc://[10.0.0.1]:8001":        false,
		"grpc://2001:db8::10:8001":      false,
		"grpc://ha.test:8001":           true,
		"grpc://10.231.0.10:8001/a/b":   true,
		"grpc://[::ffff:10.0.0.1]:8001": false,
	} {
		if got := urlProblem(u) == ""; got != ok {
			t.Errorf("%s: accepted %v, want %v (%s)", u, got, ok, urlProblem(u))
		}
	}
}
