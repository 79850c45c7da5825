// Command ovn-vif-sidecar plugs VIFs requested through OVN Port_Binding
// options into the local OVS integration bridge, beside ovn-controller.
//
//	ovn-vif-sidecar [flags]            run the daemon
//	ovn-vif-sidecar status [flags]     show each logical port's plug state
//	ovn-vif-sidecar hw [flags]         list the switchdev ports this DPU has
//	ovn-vif-sidecar version
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultHTTPAddr = "127.0.0.1:9476"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "status":
			os.Exit(runStatus(os.Args[2:]))
		case "hw":
			os.Exit(runHW(os.Args[2:]))
		case "version", "--version":
			fmt.Println(version)
			return
		}
	}
	os.Exit(runDaemon(os.Args[1:]))
}

type daemonFlags struct {
	ovsDB, sbDB, chassis, bridge string
	providers                    string
	httpAddr                     string
	privateKey, certificate, ca  string
	sysfsRoot                    string
	prepareTimeout               time.Duration
}

func runDaemon(args []string) int {
	fs := flag.NewFlagSet("ovn-vif-sidecar", flag.ContinueOnError)
	var f daemonFlags
	fs.StringVar(&f.ovsDB, "ovs-db", "unix:/var/run/openvswitch/db.sock", "local OVS database remote")
	fs.StringVar(&f.sbDB, "sb-db", "", "Southbound remote(s), comma-separated (default: Open_vSwitch external_ids:ovn-remote)")
	fs.StringVar(&f.chassis, "chassis", "", "chassis name (default: Open_vSwitch external_ids:system-id)")
	fs.StringVar(&f.bridge, "bridge", "", "integration bridge (default: Open_vSwitch external_ids:ovn-bridge, else br-int)")
	fs.StringVar(&f.providers, "providers", "all", fmt.Sprintf("comma-separated providers to enable; compiled in: %v", providers.Compiled()))
	fs.StringVar(&f.httpAddr, "http-addr", defaultHTTPAddr, "listen address for /healthz, /readyz, /ports and /metrics; empty disables")
	fs.StringVar(&f.privateKey, "private-key", "", "PEM private key for ssl: SB remotes")
	fs.StringVar(&f.certificate, "certificate", "", "PEM certificate for ssl: SB remotes")
	fs.StringVar(&f.ca, "ca-cert", "", "PEM CA certificate that signs the SB servers' certificates")
	fs.StringVar(&f.sysfsRoot, "sysfs-root", "/sys", "where sysfs is mounted (for containers and tests)")
	fs.DurationVar(&f.prepareTimeout, "prepare-timeout", 2*time.Second, "deadline for one provider Prepare call")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	klogFlags.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, fl.Name, fl.Usage) })
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	defer klog.Flush()
	tuneGC()
	if err := daemon(f); err != nil {
		klog.ErrorS(err, "Exiting")
		return 1
	}
	return 0
}

func daemon(f daemonFlags) error {
	enabled, err := providers.Select(f.providers)
	if err != nil {
		return err
	}
	tlsCfg, err := loadTLS(f.privateKey, f.certificate, f.ca)
	if err != nil {
		return err
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var eng *sidecar.Engine
	reg := providers.NewRegistry(func(typ string) providers.Env {
		return providers.Env{
			Changed:   func() { eng.Changed(typ)() },
			SysfsRoot: f.sysfsRoot,
			Logger:    klog.Background().WithName(typ),
		}
	})
	eng, err = sidecar.New(sidecar.Config{
		OVSRemote:       f.ovsDB,
		SBRemote:        f.sbDB,
		Chassis:         f.chassis,
		Bridge:          f.bridge,
		TLS:             tlsCfg,
		PrepareTimeout:  f.prepareTimeout,
		Registry:        reg,
		Metrics:         sidecar.NewMetrics(promReg),
		MetricsRegistry: promReg,
	})
	if err != nil {
		return err
	}
	for _, typ := range enabled {
		p, _ := providers.CompiledProvider(typ)
		if err := reg.Register(p); err != nil {
			// A provider whose hardware is absent must not stop the others.
			klog.ErrorS(err, "Provider failed to initialise; its ports will report an error", "provider", typ)
		}
	}
	defer func() {
		if err := reg.DestroyAll(); err != nil {
			klog.ErrorS(err, "Provider destroy")
		}
	}()
	promReg.MustRegister(newHWDBCollector(func() []*hwdb.DB {
		var dbs []*hwdb.DB
		for _, p := range reg.Enabled() {
			if h, ok := p.(interface{ DB() *hwdb.DB }); ok && h.DB() != nil {
				dbs = append(dbs, h.DB())
			}
		}
		return dbs
	}))
	klog.InfoS("Starting ovn-vif-sidecar", "version", version, "providers", reg.Types(), "ovsDB", f.ovsDB)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if f.httpAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
		mux.Handle("/", eng.Handler())
		ln, err := net.Listen("tcp", f.httpAddr)
		if err != nil {
			return fmt.Errorf("--http-addr: %w", err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				klog.ErrorS(err, "HTTP server")
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	err = eng.Run(ctx)
	// Exiting never unplugs: the ports stay as they are for the next start.
	klog.InfoS("Stopped; plugged ports are left in place")
	return err
}

func loadTLS(key, cert, ca string) (*tls.Config, error) {
	if key == "" && cert == "" && ca == "" {
		return nil, nil
	}
	if key == "" || cert == "" || ca == "" {
		return nil, errors.New("--private-key, --certificate and --ca-cert must be given together")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("loading --certificate/--private-key: %w", err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificates found", ca)
	}
	// Like OVS and ovn-controller, trust the CA but not host names:
	// ovs-pki certificates name the chassis or switch, not the address.
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("SB server sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("SB server certificate: %w", err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
		if err != nil {
			return fmt.Errorf("SB server certificate not signed by --ca-cert %s: %w", ca, err)
		}
		return nil
	}
	return &tls.Config{
		Certificates:          []tls.Certificate{pair},
		RootCAs:               pool,
		MinVersion:            tls.VersionTLS12,
		InsecureSkipVerify:    true, // chain verified below, host name deliberately not
		VerifyPeerCertificate: verify,
	}, nil
}

// tuneGC trades memory for CPU, which is the scarcer of the two on a DPU's
// ARM cores: the heap may grow to five times the live data between
// collections (GOGC=400) but collections tighten again near 256 MiB. GOGC
// and GOMEMLIMIT in the environment still win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
