package backoff

import (
	"testing"
	"time"
)

func TestJittered(t *testing.T) {
	const base, max = time.Second, 30 * time.Second
	for attempt, want := range map[int]time.Duration{0: base, 1: base, 2: 2 * base, 3: 4 * base, 5: 16 * base, 6: max, 60: max} {
		if got := Cap(attempt, base, max); got != want {
			t.Errorf("Cap(%d) = %v, want %v", attempt, got, want)
		}
		for range 100 {
			if d := Jittered(attempt, base, max); d < want/2 || d > want {
				t.Fatalf("Jittered(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}
