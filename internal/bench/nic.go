package bench

import (
	"fmt"
	"net"
)

// NIC describes the interface a sender's data leaves by, as far as the
// seed's model cares.
type NIC struct {
	Name string `json:"name"`
	// Known is false when the features could not be read.
	Known bool `json:"known"`
	// ScatterGather and TxChecksum are the offloads that let sendfile hand
	// the NIC page-cache pages instead of a merged copy.
	ScatterGather bool `json:"scatter_gather"`
	TxChecksum    bool `json:"tx_checksum"`
}

// Gather reports whether the seed's "gather-capable NIC" applies.
func (n NIC) Gather() bool { return n.Known && n.ScatterGather && n.TxChecksum }

// String describes the interface and its offloads, as the report header
// shows them.
func (n NIC) String() string {
	if n.Name == "" {
		return "interface unknown"
	}
	if !n.Known {
		return n.Name + ": offloads unknown"
	}
	return fmt.Sprintf("%s: scatter-gather %s, tx checksum offload %s", n.Name, onOff(n.ScatterGather), onOff(n.TxChecksum))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// nicFor returns the interface that holds ip, with its offloads where the
// platform tells them.
func nicFor(ip net.IP) NIC {
	ifs, err := net.Interfaces()
	if err != nil {
		return NIC{}
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				nic := NIC{Name: ifc.Name}
				nic.ScatterGather, nic.TxChecksum, nic.Known = offloads(ifc.Name)
				return nic
			}
		}
	}
	return NIC{}
}
