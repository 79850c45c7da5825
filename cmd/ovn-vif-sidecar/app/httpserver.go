package app

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The listener serves only small GET answers to probes, Prometheus and
// the status command, so everything else is cut short.
const (
	httpMaxHeaderBytes = 8 << 10 // a 1 MiB header gets 431
	httpMaxBodyBytes   = 4 << 10 // GET and HEAD need no body
	httpReadTimeout    = 10 * time.Second
	httpWriteTimeout   = 30 * time.Second // a /metrics scrape is well below
	httpIdleTimeout    = 60 * time.Second
)

// newHTTPServer is the one place the daemon's HTTP server is built.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           readOnly(h),
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
	}
}

// readOnly answers 405 to anything but GET and HEAD and bounds bodies.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, httpMaxBodyBytes)
		h.ServeHTTP(w, r)
	})
}

// daemonMux routes /metrics to the registry, /debug/pprof/ to Go's
// profiles when withPprof is set, and everything else to the engine.
func daemonMux(reg prometheus.Gatherer, engine http.Handler, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	// Uncompressed: promhttp pools its gzip writers, so a scraped sidecar
	// would keep one resident, which costs more memory than it saves on
	// the wire.
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true}))
	mux.Handle("/", engine)
	if withPprof {
		mountPprof(mux)
	}
	return mux
}

// mountPprof serves net/http/pprof's handlers under /debug/pprof/. The
// server's write timeout bounds a CPU profile or trace to under 30 s.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
