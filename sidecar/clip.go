package sidecar

// This file owns the clipping of outcome text (see plan.Clip).

import (
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// clipOutcome bounds every text an outcome carries to the status and logs.
func clipOutcome(o plan.Outcome) plan.Outcome {
	o.LogicalPort = plan.Clip(o.LogicalPort)
	o.Provider = plan.Clip(o.Provider)
	o.Interface = plan.Clip(o.Interface)
	o.Reason = plan.ClipTo(o.Reason, plan.MaxReasonLen)
	return o
}
