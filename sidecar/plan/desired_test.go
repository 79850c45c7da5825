package plan

import (
	"reflect"
	"testing"
)

func TestConsiderBinding(t *testing.T) {
	const local = "uuid-chassis-local"
	const other = "uuid-chassis-other"
	opts := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	tests := []struct {
		name    string
		b       Binding
		chassis string
		wantOK  bool
		want    Desired
	}{
		{
			name:    "local VIF with vif-plug-type",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: local,
			wantOK:  true,
			want:    Desired{LogicalPort: "lp1", PlugType: "dummy", Options: opts(OptPlugType, "dummy")},
		},
		{
			name:    "local VIF with vif-plug-type and mtu",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: local, Options: opts(OptPlugType, "representor", OptMTURequest, "9000", "vif-plug:representor:vf-num", "3")},
			chassis: local,
			wantOK:  true,
			want: Desired{LogicalPort: "lp1", PlugType: "representor", MTURequest: 9000,
				Options: opts(OptPlugType, "representor", OptMTURequest, "9000", "vif-plug:representor:vf-num", "3")},
		},
		{
			name:    "local VIF with bad mtu means no mtu",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: local, Options: opts(OptPlugType, "dummy", OptMTURequest, "abc")},
			chassis: local,
			wantOK:  true,
			want:    Desired{LogicalPort: "lp1", PlugType: "dummy", Options: opts(OptPlugType, "dummy", OptMTURequest, "abc")},
		},
		{
			name:    "local VIF without vif-plug-type is considered but not plugged",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: local, Options: opts("foo", "bar")},
			chassis: local,
			wantOK:  true,
			want:    Desired{LogicalPort: "lp1", Options: opts("foo", "bar")},
		},
		{
			name:    "local VIF with nil options",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: local},
			chassis: local,
			wantOK:  true,
			want:    Desired{LogicalPort: "lp1"},
		},
		{
			name:    "requested_chassis is another chassis",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: other, Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
		{
			name:    "requested_chassis is empty",
			b:       Binding{LogicalPort: "lp1", Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
		{
			name:    "local chassis unknown and requested_chassis empty",
			b:       Binding{LogicalPort: "lp1", Options: opts(OptPlugType, "dummy")},
			chassis: "",
		},
		{
			name:    "local chassis unknown",
			b:       Binding{LogicalPort: "lp1", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: "",
		},
		{
			name:    "type localport",
			b:       Binding{LogicalPort: "lp1", Type: "localport", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
		{
			name:    "type virtual",
			b:       Binding{LogicalPort: "lp1", Type: "virtual", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
		{
			name:    "type external",
			b:       Binding{LogicalPort: "lp1", Type: "external", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
		{
			name:    "type l3gateway",
			b:       Binding{LogicalPort: "lp1", Type: "l3gateway", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
		{
			name:    "container port with parent_port",
			b:       Binding{LogicalPort: "lp1", ParentPort: "vm1", RequestedChassis: local, Options: opts(OptPlugType, "dummy")},
			chassis: local,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ConsiderBinding(tc.b, tc.chassis)
			if ok != tc.wantOK {
				t.Fatalf("ConsiderBinding(%+v, %q) ok = %v, want %v", tc.b, tc.chassis, ok, tc.wantOK)
			}
			if !ok {
				if !reflect.DeepEqual(got, Desired{}) {
					t.Errorf("not considered but returned %+v, want zero Desired", got)
				}
				return
			}
			if got.LogicalPort != tc.want.LogicalPort || got.PlugType != tc.want.PlugType || got.MTURequest != tc.want.MTURequest {
				t.Errorf("ConsiderBinding = {lp %q type %q mtu %d}, want {lp %q type %q mtu %d}",
					got.LogicalPort, got.PlugType, got.MTURequest, tc.want.LogicalPort, tc.want.PlugType, tc.want.MTURequest)
			}
			// All binding options are passed to the provider verbatim.
			if len(got.Options) != len(tc.want.Options) || (len(tc.want.Options) > 0 && !reflect.DeepEqual(got.Options, tc.want.Options)) {
				t.Errorf("Options = %v, want %v", got.Options, tc.want.Options)
			}
		})
	}
}

func TestParseMTURequest(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"420", 420},
		{"1", 1},
		{"9000", 9000},
		{" 430 ", 430},
		{"\t1500\n", 1500},
		{"", 0},
		{"0", 0},
		{"00", 0},
		{"abc", 0},
		{"42abc", 0},
		{"-5", 0},
		{"-0", 0},
		{"1.5", 0},
		{"4 20", 0},
		{"0x10", 0},
		{"2147483648", 0},
		{"99999999999999999999", 0},
		{"-99999999999999999999", 0},
	}
	for _, tc := range tests {
		if got := ParseMTURequest(tc.in); got != tc.want {
			t.Errorf("ParseMTURequest(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
