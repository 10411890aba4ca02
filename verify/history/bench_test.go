package history

import (
	"fmt"
	"testing"
	"time"
)

// benchHistory is a failover-sized history: writers clients writing every
// 5 ms for 60 s (insert-only, a key per write) and readers reading a
// recent key, with db1 taking over at 30 s.
func benchHistory(writers, readers int) (History, FinalState) {
	var ops []Op
	final := node("db0")
	for c := 0; c < writers; c++ {
		for t := 0; t < 60000; t += 5 {
			key := fmt.Sprintf("w%d-%d", c, t)
			srv := p0
			if t >= 30000 {
				srv = p1
			}
			ops = append(ops, wr(fmt.Sprint("w", c), float64(t), float64(t)+2, key, key, OK, vip, srv))
			final.Rows[key] = key
		}
	}
	for c := 0; c < readers; c++ {
		for t := 10; t < 60000; t += 50 {
			key := fmt.Sprintf("w%d-%d", c%writers, t-10)
			ops = append(ops, rd(fmt.Sprint("r", c), float64(t), float64(t)+1, key, key, direct1, s1))
		}
	}
	f1 := final
	f1.Node = "db1"
	return hist(ops...), finalOf(final, f1)
}

// BenchmarkCheck: every check but linearizability on 48,000 writes and
// 2,400 reads.
func BenchmarkCheck(b *testing.B) {
	h, f := benchHistory(4, 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Check(h, f, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinearizableRegister: 8 keys, 4 writers and 2 readers, one
// operation every 5 ms each for 20 s (24,000 operations), with a few
// unknown writes at a failover.
func BenchmarkLinearizableRegister(b *testing.B) {
	var ops []Op
	last := map[string]string{}
	for t := 0; t < 20000; t += 5 {
		for c := 0; c < 4; c++ {
			key := fmt.Sprintf("k%d", (t/5+c)%8)
			val := fmt.Sprintf("%d-%d", c, t)
			out := OK
			cmp := float64(t) + 4
			if t >= 10000 && t < 10010 {
				out, cmp = Unknown, float64(t)+3000
			}
			ops = append(ops, wr(fmt.Sprintf("w%d-%d", c, t), float64(t)+0.1*float64(c), cmp, key, val, out, vip, p0))
			if out == OK {
				last[key] = val
			}
		}
		for c := 0; c < 2; c++ {
			key := fmt.Sprintf("k%d", (t/5+c+3)%8)
			v := last[key]
			ops = append(ops, rd(fmt.Sprintf("r%d-%d", c, t), float64(t)+4.5, float64(t)+4.9, key, v, vip, p0))
		}
	}
	h := hist(ops...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := CheckLinearizable(h, finalOf(), LinearizabilityOptions{Timeout: time.Minute})
		if l.Result != "ok" {
			b.Fatalf("%+v", l)
		}
	}
}
