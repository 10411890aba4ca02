package budget

import (
	"testing"
	"time"
)

func TestPatroniTimersFor(t *testing.T) {
	for _, c := range []struct {
		f    int
		want PatroniTimers
		ok   bool
	}{
		{1, PatroniTimers{1, 1, 0}, false},
		{2, PatroniTimers{2, 1, 0}, false},
		{3, PatroniTimers{3, 1, 1}, true},
		{10, PatroniTimers{10, 1, 4}, true},
		{30, PatroniTimers{30, 3, 10}, true},
		{300, PatroniTimers{300, 10, 10}, true},
	} {
		got, ok := PatroniTimersFor(c.f)
		if got != c.want || ok != c.ok {
			t.Errorf("PatroniTimersFor(%d) = %+v, %v; want %+v, %v", c.f, got, ok, c.want, c.ok)
		}
	}
	// Patroni's own rule holds for every accepted value.
	for f := 3; f <= 300; f++ {
		tm, ok := PatroniTimersFor(f)
		if !ok || tm.LoopWait+2*tm.RetryTimeout > tm.TTL || tm.LoopWait < 1 || tm.RetryTimeout < 1 {
			t.Errorf("PatroniTimersFor(%d) = %+v, %v breaks loop_wait + 2 × retry_timeout ≤ ttl", f, tm, ok)
		}
	}
}

func TestPatroniPromotion(t *testing.T) {
	tm, _ := PatroniTimersFor(3)
	p := PatroniPromotion(tm)
	if p.Value != 7500*time.Millisecond {
		t.Errorf("promotion budget for F=3 = %s, want 7.5s (design: ≤ 3 + 1 + 1 + 2 + 0.5)", Seconds(p.Value))
	}
	v := PatroniVIP(time.Second, 200*time.Millisecond, 100)
	if want := time.Second + 600*time.Millisecond + 121875*time.Microsecond; v.Value != want {
		t.Errorf("VIP term = %s, want %s", Seconds(v.Value), Seconds(want))
	}
}
