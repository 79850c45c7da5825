package sidecar

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// This file owns the HTTP endpoints; they only read the status store,
// the health and the metrics registry.

func (e *Engine) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		h := e.Health()
		if !h.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "primed=%t ovs_connected=%t sb_connected=%t ovs_schema=%q sb_schema=%q\n", h.Primed, h.OVS.Connected, h.SB.Connected, h.OVS.Schema, h.SB.Schema)
		for _, r := range h.Reasons {
			fmt.Fprintln(w, r)
		}
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e.Health())
	})
	mux.HandleFunc("GET /ports", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e.Ports())
	})
	return mux
}
