package logs

import (
	"errors"
	"testing"
	"time"
)

func TestFormatKVs(t *testing.T) {
	got := formatKVs("Not plugging", "lport", `a "b"`, "err", errors.New("x"), "n", 3, "d", 2*time.Second, "odd")
	want := `"Not plugging" lport="a \"b\"" err="x" n=3 d="2s" odd="(MISSING)"`
	if got != want {
		t.Errorf("formatKVs = %s\nwant        %s", got, want)
	}
}
