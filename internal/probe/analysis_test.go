package probe

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Unix(1_700_000_000, 0)

// at is an event at t0 + ms milliseconds.
func at(ms int, op string, ok bool, id, site string) Event {
	return Event{T: t0.Add(time.Duration(ms) * time.Millisecond).UnixNano(), Op: op, OK: ok, ID: id, Site: site}
}

func TestRTOAndWriteGap(t *testing.T) {
	fault := t0.Add(1000 * time.Millisecond)
	tests := []struct {
		name         string
		events       []Event
		rto, gap     time.Duration
		rtoOK, gapOK bool
	}{
		{
			name: "failover",
			events: []Event{
				at(900, OpWrite, true, "c-1", "site0"),
				at(950, OpWrite, true, "c-2", "site0"),
				at(1100, OpWrite, false, "c-3", "site0"),
				at(6100, OpFailover, true, "", ""),
				at(6150, OpConnect, true, "", "site1"),
				at(6200, OpWrite, true, "c-4", "site1"),
				at(6250, OpWrite, true, "c-5", "site1"),
			},
			rto: 5200 * time.Millisecond, rtoOK: true,
			gap: 5250 * time.Millisecond, gapOK: true,
		},
		{
			name: "write acked exactly at the fault counts before it",
			events: []Event{
				at(1000, OpWrite, true, "c-1", "site0"),
				at(1300, OpWrite, true, "c-2", "site0"),
			},
			rto: 300 * time.Millisecond, rtoOK: true,
			gap: 300 * time.Millisecond, gapOK: true,
		},
		{
			name: "events out of order",
			events: []Event{
				at(1400, OpWrite, true, "c-4", "site1"),
				at(1200, OpWrite, true, "c-3", "site1"),
				at(500, OpWrite, true, "c-1", "site0"),
				at(800, OpWrite, true, "c-2", "site0"),
			},
			rto: 200 * time.Millisecond, rtoOK: true,
			gap: 400 * time.Millisecond, gapOK: true,
		},
		{
			name: "no recovery",
			events: []Event{
				at(900, OpWrite, true, "c-1", "site0"),
				at(1100, OpWrite, false, "c-2", "site0"),
				at(1200, OpConnect, true, "", "site1"),
			},
		},
		{
			name: "nothing before the fault",
			events: []Event{
				at(1100, OpWrite, true, "c-1", "site0"),
			},
			rto: 100 * time.Millisecond, rtoOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rto, ok := RTO(tt.events, fault)
			if rto != tt.rto || ok != tt.rtoOK {
				t.Errorf("RTO = %v, %v; want %v, %v", rto, ok, tt.rto, tt.rtoOK)
			}
			gap, ok := WriteGap(tt.events, fault)
			if gap != tt.gap || ok != tt.gapOK {
				t.Errorf("WriteGap = %v, %v; want %v, %v", gap, ok, tt.gap, tt.gapOK)
			}
		})
	}
}

func TestAckedAndLost(t *testing.T) {
	events := []Event{
		at(1, OpWrite, true, "c-1", "site0"),
		at(2, OpWrite, false, "c-2", "site0"),
		at(3, OpConnect, true, "", "site1"),
		at(4, OpWrite, true, "c-3", "site1"),
		at(5, OpWrite, true, "c-3", "site1"), // a duplicate line
		at(6, OpWrite, true, "c-4", "site1"),
	}
	acked := Acked(events)
	if diff := cmp.Diff([]string{"c-1", "c-3", "c-4"}, acked); diff != "" {
		t.Errorf("Acked (-want +got):\n%s", diff)
	}
	tests := []struct {
		name    string
		present map[string]bool
		want    []string
	}{
		{"all present, plus an unacknowledged row", map[string]bool{"c-1": true, "c-2": true, "c-3": true, "c-4": true}, nil},
		{"one lost", map[string]bool{"c-1": true, "c-4": true}, []string{"c-3"}},
		{"empty table", map[string]bool{}, []string{"c-1", "c-3", "c-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Lost(acked, tt.present)); diff != "" {
				t.Errorf("Lost (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShares(t *testing.T) {
	var events []Event
	for i := 0; i < 6; i++ {
		events = append(events, at(i, OpConnect, true, "", "site0"))
	}
	for i := 0; i < 3; i++ {
		events = append(events, at(10+i, OpConnect, true, "", "site1"))
	}
	events = append(events,
		at(20, OpConnect, false, "", ""),      // failed connects do not count
		at(21, OpWrite, true, "c-1", "site1"), // nor writes
	)
	want := map[string]float64{"site0": 6.0 / 9, "site1": 3.0 / 9}
	if diff := cmp.Diff(want, Shares(events)); diff != "" {
		t.Errorf("Shares (-want +got):\n%s", diff)
	}
	if got := Shares(nil); len(got) != 0 {
		t.Errorf("Shares(nil) = %v, want empty", got)
	}
}

func TestShareBound(t *testing.T) {
	const alpha = 1e-6
	// 1/sqrt(n): four times the trials, half the bound.
	for _, n := range []int{25, 100, 400, 1600} {
		b1, b4 := ShareBound(n, 0.5, alpha), ShareBound(4*n, 0.5, alpha)
		if r := b1 / b4; math.Abs(r-2) > 1e-12 {
			t.Errorf("ShareBound(%d)/ShareBound(%d) = %v, want 2", n, 4*n, r)
		}
	}
	// z for alpha = 0.05 is the familiar 1.96.
	if got, want := ShareBound(1, 0.5, 0.05), 1.959964*0.5; math.Abs(got-want) > 1e-6 {
		t.Errorf("ShareBound(1, 0.5, 0.05) = %v, want %v", got, want)
	}
	// A smaller false-alarm rate allows more deviation.
	if ShareBound(400, 0.5, 1e-6) <= ShareBound(400, 0.5, 1e-3) {
		t.Error("bound did not grow as alpha shrank")
	}

	tests := []struct {
		name   string
		a, b   int
		p      float64
		passes bool
	}{
		{"50/50 sample 230/170", 230, 170, 0.5, true},
		{"50/50 sample 300/100", 300, 100, 0.5, false},
		{"50/50 sample 200/200", 200, 200, 0.5, true},
		{"66/33 sample 270/130", 270, 130, 2.0 / 3, true},
		{"66/33 sample 200/200", 200, 200, 2.0 / 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.a + tt.b
			dev := math.Abs(float64(tt.a)/float64(n) - tt.p)
			bound := ShareBound(n, tt.p, alpha)
			if passes := dev <= bound; passes != tt.passes {
				t.Errorf("deviation %.4f, bound %.4f: passes = %v, want %v", dev, bound, passes, tt.passes)
			}
		})
	}

	if b := ShareBound(0, 0.5, alpha); !math.IsInf(b, 1) {
		t.Errorf("ShareBound(0) = %v, want +Inf", b)
	}
	for _, bad := range [][2]float64{{-0.1, alpha}, {1.1, alpha}, {0.5, 0}, {0.5, 1}, {math.NaN(), alpha}} {
		if b := ShareBound(10, bad[0], bad[1]); !math.IsNaN(b) {
			t.Errorf("ShareBound(10, %v, %v) = %v, want NaN", bad[0], bad[1], b)
		}
	}
	if b := ShareBound(10, 1, alpha); b != 0 {
		t.Errorf("ShareBound(10, 1, alpha) = %v, want 0 (every trial must succeed)", b)
	}
}
