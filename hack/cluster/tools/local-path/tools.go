//go:build tools

// Package tools pins the upstream command that hack/cluster/build.sh builds.
package tools

import _ "github.com/rancher/local-path-provisioner"
