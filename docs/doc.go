// Package docs holds the user documentation (README.md at the top of the
// repository and the pages in this directory, shipped under
// /usr/share/doc/ovn-vif-sidecar/). It has no code; its tests check that
// every relative link in those pages resolves, and that the man page's
// SEE ALSO names every page where the package installs it.
package docs
