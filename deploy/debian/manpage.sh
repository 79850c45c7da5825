#!/bin/sh
# Prints ovn-vif-sidecar(8) in roff, built from the binary's own --help
# and its subcommands' --help: manpage.sh BINARY VERSION DATE [ROOT]
# ROOT is the package tree being built: SEE ALSO then names each document
# as installed there (README.md.gz where dh_compress-style gzip took it).
set -eu
bin=$1 version=$2 date=$3 root=${4:-}
docdir=/usr/share/doc/ovn-vif-sidecar
# installed PATH: PATH, or PATH.gz when only that is in ROOT.
installed() {
	if [ -n "$root" ] && [ ! -e "$root$1" ] && [ -e "$root$1.gz" ]; then
		echo "$1.gz"
	else
		echo "$1"
	fi
}

# roff-escape: backslashes, and lines that start with . or '.
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

cat <<EOF2
.TH OVN-VIF-SIDECAR 8 "$date" "ovn-vif-sidecar $version" "System Administration"
.SH NAME
ovn-vif-sidecar \- plug VIFs requested through OVN Port_Binding options into Open vSwitch
.SH SYNOPSIS
.B ovn-vif-sidecar
.RI [ flags ]
.br
.B ovn-vif-sidecar status
.RI [ flags ]
.br
.B ovn-vif-sidecar hw
.RI [ flags ]
.br
.B ovn-vif-sidecar version
.SH DESCRIPTION
.B ovn-vif-sidecar
runs beside
.BR ovn-controller (8)
on a SmartNIC DPU and plugs ports into the OVS integration bridge when the
CMS asks for it: an OVN Port_Binding with options:requested-chassis naming
this chassis and options:vif-plug-type set.
It reads its identity (system-id, ovn-remote, ovn-bridge) from the local
Open_vSwitch row, as ovn-controller does, unless flags override it.
Stopping it never unplugs anything.
.SH OPTIONS
.nf
EOF2
# Captured first, so that a binary that cannot run fails the build.
help=$("$bin" --help)
printf '%s\n' "$help" | esc
echo ".fi"
for sub in status hw; do
	help=$("$bin" "$sub" --help)
	echo ".SS \"$sub\""
	echo ".nf"
	printf '%s\n' "$help" | esc
	echo ".fi"
done
cat <<'EOF2'
.SH EXIT STATUS
.TP
.B 0
Stopped by SIGTERM or SIGINT; the command succeeded.
.TP
.B 1
A run-time failure that may heal (a listen address in use, a certificate
file that cannot be read yet); systemd restarts the service.
.TP
.B 2
A configuration error: unknown command or stray argument, unknown
provider, incomplete TLS flags, malformed address or remote, ssl: remote
without TLS flags. The unit sets RestartPreventExitStatus=2.
.PP
.B ovn-vif-sidecar status
exits like
.BR "systemctl is-active" :
0 when the daemon is ready, 3 when it answers but is not ready (the Ready
line says why), 1 when it cannot be reached or gives a bad answer, and 2 for
a usage error.
.SH FILES
.TP
.I /etc/default/ovn-vif-sidecar
OPTIONS for the service.
.TP
.I /lib/systemd/system/ovn-vif-sidecar.service
The systemd unit; the package enables it but does not start it on
installation (\fBsystemctl start ovn-vif-sidecar\fR after configuring), restarts
it on upgrade if it runs, and stops it on removal.
.SH SEE ALSO
.BR ovn-controller (8),
.BR ovs-vsctl (8),
.BR ovn-sbctl (8),
.BR devlink (8).
.PP
The documentation is installed under
.IR /usr/share/doc/ovn-vif-sidecar/ ,
laid out as in the source tree (pages over 4 KiB gzipped; read them with
.BR zless ):
EOF2
printf '.TP\n.I %s\nWhat the sidecar does, and where each document is.\n' "$(installed "$docdir/README.md")"
# One entry per page the package ships, titled by its first heading.
docs=$(dirname "$0")/../../docs
for page in "$docs"/*.md; do
	title=$(sed -n 's/^# //p' "$page" | head -n 1 | tr -d '`')
	echo ".TP"
	printf '.I %s\n' "$(installed "$docdir/docs/$(basename "$page")")"
	printf '%s\n' "${title:-$(basename "$page" .md)}" | esc
done
