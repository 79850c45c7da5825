package sidecar

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func (e *Engine) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ovs, sb := e.Connected()
		primed := e.Primed()
		if !primed {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "primed=%t ovs_connected=%t sb_connected=%t\n", primed, ovs, sb)
	})
	mux.HandleFunc("GET /ports", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e.Ports())
	})
	return mux
}
