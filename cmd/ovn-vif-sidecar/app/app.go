// Command ovn-vif-sidecar plugs VIFs requested through OVN Port_Binding
// options into the local OVS integration bridge, beside ovn-controller.
//
//	ovn-vif-sidecar [flags]            run the daemon
//	ovn-vif-sidecar status [flags]     show each logical port's plug state
//	ovn-vif-sidecar hw [flags]         list the switchdev ports this DPU has
//	ovn-vif-sidecar version            print version, revision, Go version
//	ovn-vif-sidecar help
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
)

// Version and Revision are the build's, stamped by the linker (make
// build does it; so does a vendor's build of its own main package):
//
//	-ldflags "-X github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app.Version=v1.2.3
//	          -X github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app.Revision=<commit>"
//
// Unstamped, the version is "dev" and the revision Go's VCS stamp, if any.
var (
	Version  = ""
	Revision = ""
)

const defaultHTTPAddr = "127.0.0.1:9476"

// httpAddrEnv, when set, replaces defaultHTTPAddr for the daemon and the
// status command, so that a pod can set its address once for both.
const httpAddrEnv = "OVN_VIF_SIDECAR_HTTP_ADDR"

// Exit codes: 2 is a static configuration error that a restart cannot
// fix (systemd's RestartPreventExitStatus=2); 1 is anything else.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// Main runs the command with args (without the program name) and returns
// the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr)
}

const subcommandUsage = `Usage:
  ovn-vif-sidecar [flags]           run the daemon
  ovn-vif-sidecar status [flags]    show the daemon's health and each logical port's state
  ovn-vif-sidecar hw [flags]        list the switchdev ports this DPU has
  ovn-vif-sidecar version           print the version, revision and Go version
  ovn-vif-sidecar help              print this help
Run 'ovn-vif-sidecar COMMAND --help' for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return runStatus(args[1:], stdout, stderr)
		case "hw":
			return runHW(args[1:], stdout, stderr)
		case "version", "--version", "-version":
			if len(args) > 1 {
				return usageError(stderr, "version takes no arguments, got %q", args[1])
			}
			fmt.Fprintln(stdout, versionLine())
			return exitOK
		case "help":
			if len(args) > 1 {
				return usageError(stderr, "help takes no arguments, got %q", args[1])
			}
			_, usage := daemonFlagSet(&daemonFlags{})
			usage(stdout)
			return exitOK
		}
	}
	return runDaemon(args, stdout, stderr)
}

// usageError prints one line and the short usage, and returns exit 2.
func usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "ovn-vif-sidecar: "+format+"\n", a...)
	fmt.Fprint(stderr, subcommandUsage)
	return exitConfig
}

// buildInfo returns the stamped version and revision; a plain go build
// falls back to "dev" and the VCS revision Go recorded, if any.
func buildInfo() (ver, rev, goVersion string) {
	ver, rev, goVersion = Version, Revision, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev, goVersion
}

func versionLine() string {
	ver, rev, gov := buildInfo()
	return fmt.Sprintf("ovn-vif-sidecar %s revision %s %s", ver, rev, gov)
}

type daemonFlags struct {
	ovsDB, sbDB, chassis, bridge string
	providers                    string
	httpAddr                     string
	privateKey, certificate, ca  string
	sysfsRoot                    string
	prepareTimeout               time.Duration
	debugPprof                   bool
	prov                         providerFlags
}

// daemonFlagSet returns the daemon's flag set (its own flags and klog's)
// with a usage that lists the subcommands and keeps klog's flags apart.
func daemonFlagSet(f *daemonFlags) (fs *flag.FlagSet, usage func(io.Writer)) {
	own := flag.NewFlagSet("ovn-vif-sidecar", flag.ContinueOnError)
	own.StringVar(&f.ovsDB, "ovs-db", "unix:/var/run/openvswitch/db.sock", "local OVS database remote: unix:PATH or tcp:HOST:PORT")
	own.StringVar(&f.sbDB, "sb-db", "", "Southbound remote(s), comma-separated: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT (default: Open_vSwitch external_ids:ovn-remote)")
	own.StringVar(&f.chassis, "chassis", "", "chassis name (default: Open_vSwitch external_ids:system-id)")
	own.StringVar(&f.bridge, "bridge", "", "integration bridge (default: Open_vSwitch external_ids:ovn-bridge, else br-int)")
	own.StringVar(&f.providers, "providers", "all", fmt.Sprintf("comma-separated providers to enable; compiled in: %v", providers.Compiled()))
	httpDefault := defaultHTTPAddr
	if v, ok := os.LookupEnv(httpAddrEnv); ok {
		httpDefault = v
	}
	own.StringVar(&f.httpAddr, "http-addr", httpDefault, "listen address for /healthz, /readyz, /health, /ports and /metrics; empty disables; $"+httpAddrEnv+", if set, replaces the default")
	own.StringVar(&f.privateKey, "private-key", "", "PEM private key for ssl: SB remotes")
	own.StringVar(&f.certificate, "certificate", "", "PEM certificate for ssl: SB remotes")
	own.StringVar(&f.ca, "ca-cert", "", "PEM CA certificate that signs the SB servers' certificates")
	own.StringVar(&f.sysfsRoot, "sysfs-root", "/sys", "where sysfs is mounted (for containers and tests)")
	own.DurationVar(&f.prepareTimeout, "prepare-timeout", 2*time.Second, "deadline for one provider Prepare call")
	own.BoolVar(&f.debugPprof, "debug-pprof", false, "also serve Go's profiles (net/http/pprof) under /debug/pprof/ on --http-addr; for debugging only: they reveal memory contents and cost CPU")
	provFlags := providerFlagSet(&f.prov)
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)

	fs = flag.NewFlagSet("ovn-vif-sidecar", flag.ContinueOnError)
	// Parse errors are printed by the caller, with a "did you mean".
	fs.SetOutput(io.Discard)
	own.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, fl.Name, fl.Usage) })
	provFlags.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, fl.Name, fl.Usage) })
	klogFlags.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, fl.Name, fl.Usage) })
	// On a parse error the flag package prints the error line; the short
	// usage follows. --help prints the full usage.
	fs.Usage = func() {}
	usage = func(w io.Writer) {
		fmt.Fprint(w, subcommandUsage)
		fmt.Fprintln(w, "\nDaemon flags:")
		own.SetOutput(w)
		own.PrintDefaults()
		fmt.Fprintln(w, "\nProvider flags (--provider.<type>.<key>):")
		provFlags.SetOutput(w)
		provFlags.PrintDefaults()
		fmt.Fprintln(w, "\nLogging flags (klog):")
		klogFlags.SetOutput(w)
		klogFlags.PrintDefaults()
		fmt.Fprintln(w, "\nExit status: 0 on SIGTERM or SIGINT, 2 for a configuration error (not worth restarting), 1 otherwise.")
	}
	return fs, usage
}

func runDaemon(args []string, stdout, stderr io.Writer) int {
	var f daemonFlags
	if err := checkProviderArgs(args); err != nil {
		return usageError(stderr, "%v", err)
	}
	fs, usage := daemonFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		return usageError(stderr, "%s", flagParseError(fs, err))
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "unknown command or stray argument %q", fs.Arg(0))
	}
	enabled, built, err := validate(f)
	if err != nil {
		fmt.Fprintf(stderr, "ovn-vif-sidecar: %v\n", err)
		return exitConfig
	}
	defer klog.Flush()
	tuneGC()
	if err := daemon(f, enabled, built); err != nil {
		klog.ErrorS(err, "Exiting")
		return exitFail
	}
	return exitOK
}

// validate checks everything static in the flags, so that a mistake is
// one clear line and exit 2 rather than a daemon that retries forever.
// What can heal (a database not up yet, a certificate file not yet
// provisioned, a listen address in use) is left to run time. Each enabled
// provider is built from its configuration here; its Init, which touches
// the system, runs later.
func validate(f daemonFlags) (enabled []string, built map[string]providers.Provider, err error) {
	if len(providers.Compiled()) == 0 {
		return nil, nil, errors.New("no provider is compiled in: the main package must import one (see docs/providers.md)")
	}
	enabled, err = providers.Select(f.providers)
	if err != nil {
		return nil, nil, err
	}
	if built, err = f.prov.build(enabled); err != nil {
		return nil, nil, err
	}
	if err := validateConns(f); err != nil {
		return nil, nil, err
	}
	return enabled, built, nil
}

func validateConns(f daemonFlags) error {
	if n := countSet(f.privateKey, f.certificate, f.ca); n != 0 && n != 3 {
		return errors.New("--private-key, --certificate and --ca-cert must be given together")
	}
	if f.httpAddr != "" {
		if err := validateListenAddr(f.httpAddr); err != nil {
			return fmt.Errorf("--http-addr %q: %v", f.httpAddr, err)
		}
	}
	if err := validateOVSRemote(f.ovsDB); err != nil {
		return err
	}
	if f.sbDB != "" {
		eps := sidecar.SplitRemotes(f.sbDB)
		if len(eps) == 0 {
			return fmt.Errorf("--sb-db %q names no remote", f.sbDB)
		}
		for _, ep := range eps {
			if err := sidecar.ValidateRemote(ep); err != nil {
				return fmt.Errorf("--sb-db: %v", err)
			}
			if strings.HasPrefix(ep, "ssl:") && f.privateKey == "" {
				return fmt.Errorf("--sb-db: SB remote %s needs --private-key, --certificate and --ca-cert", ep)
			}
		}
	}
	if f.prepareTimeout <= 0 {
		return fmt.Errorf("--prepare-timeout %v: must be positive", f.prepareTimeout)
	}
	return nil
}

func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// validateListenAddr accepts HOST:PORT with a numeric port; an empty host
// means every address.
func validateListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, for example %s", defaultHTTPAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

func daemon(f daemonFlags, enabled []string, built map[string]providers.Provider) error {
	tlsCfg, err := loadTLS(f.privateKey, f.certificate, f.ca)
	if err != nil {
		return err
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promReg.MustRegister(newBuildInfo())

	// Made before the registry, whose providers may report a change as
	// soon as they exist, and handed to the engine.
	changes := sidecar.NewProviderChanges()
	reg := providers.NewRegistry(func(typ string) providers.Env {
		return providers.Env{
			Changed:   changes.For(typ),
			SysfsRoot: f.sysfsRoot,
			Logger:    klog.Background().WithName(typ),
		}
	})
	eng, err := sidecar.New(sidecar.Config{
		OVSRemote:       f.ovsDB,
		SBRemote:        f.sbDB,
		Chassis:         f.chassis,
		Bridge:          f.bridge,
		TLS:             tlsCfg,
		PrepareTimeout:  f.prepareTimeout,
		Registry:        reg,
		Changes:         changes,
		Metrics:         sidecar.NewMetrics(promReg),
		MetricsRegistry: promReg,
	})
	if err != nil {
		return err
	}
	// Listen before the providers start, so that an address in use fails
	// at once.
	var ln net.Listener
	if f.httpAddr != "" {
		if ln, err = net.Listen("tcp", f.httpAddr); err != nil {
			return fmt.Errorf("--http-addr: %w", err)
		}
	}
	for _, typ := range enabled {
		if err := reg.Register(built[typ]); err != nil {
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
			if h, ok := p.Provider().(interface{ DB() *hwdb.DB }); ok && h.DB() != nil {
				dbs = append(dbs, h.DB())
			}
		}
		return dbs
	}))
	promReg.MustRegister(newProviderUp(reg, enabled))
	ver, rev, _ := buildInfo()
	klog.InfoS("Starting ovn-vif-sidecar", "version", ver, "revision", rev, "providers", reg.Types(), "ovsDB", f.ovsDB, "httpAddr", f.httpAddr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if ln != nil {
		srv := newHTTPServer(daemonMux(promReg, eng.Handler(), f.debugPprof))
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

// newBuildInfo is ovn_vif_sidecar_build_info{version,revision,goversion} 1.
func newBuildInfo() prometheus.Collector {
	ver, rev, gov := buildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   sidecar.Namespace,
		Name:        "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": ver, "revision": rev, "goversion": gov},
	})
	g.Set(1)
	return g
}

func loadTLS(key, cert, ca string) (*tls.Config, error) {
	if key == "" && cert == "" && ca == "" {
		return nil, nil
	}
	if key == "" || cert == "" || ca == "" {
		return nil, errors.New("--private-key, --certificate and --ca-cert must be given together")
	}
	certPEM, err := readPEMFile("certificate", cert, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEMFile("private-key", key, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	caPEM, err := readPEMFile("ca-cert", ca, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--certificate %s with --private-key %s: %w", cert, key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("--ca-cert %s: none of its PEM certificates parses", ca)
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

// tuneGC keeps Go's default GOGC (100): a higher GOGC buys churn CPU
// with memory, and allocating less is the better lever.
// Collections tighten near 256 MiB as a backstop. GOGC and GOMEMLIMIT in
// the environment still win.
func tuneGC() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
