package hwdb

import (
	"encoding/binary"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// subscribeLinks is the watcher's default SubscribeFunc. netlink's own
// LinkSubscribe turns every message into a Link (every attribute, the
// statistics) before the watcher can look at it; with ovs-vswitchd making
// a tap per plugged port, a bulk plug spent a large share of the
// sidecar's CPU on links the index never holds. This reads
// the raw messages and decodes only those that may matter, with the same
// contract: ch is closed when the socket fails or done is closed.
func (db *DB) subscribeLinks(ch chan<- netlink.LinkUpdate, done <-chan struct{}, opts netlink.LinkSubscribeOptions) error {
	if opts.ListExisting || opts.Namespace != nil {
		return fmt.Errorf("hwdb: link subscription: ListExisting and Namespace are not supported")
	}
	s, err := nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_LINK)
	if err != nil {
		return err
	}
	if opts.ReceiveBufferSize > 0 {
		if err := s.SetReceiveBufferSize(opts.ReceiveBufferSize, opts.ReceiveBufferForceSize); err != nil {
			s.Close()
			return err
		}
	}
	report := func(err error) {
		if opts.ErrorCallback != nil {
			opts.ErrorCallback(err)
		}
	}
	go func() {
		<-done
		s.Close()
	}()
	go func() {
		defer close(ch)
		for {
			msgs, from, err := s.Receive()
			if err != nil {
				report(fmt.Errorf("receive: %w", err))
				return
			}
			if from.Pid != nl.PidKernel {
				continue
			}
			for _, m := range msgs {
				switch m.Header.Type {
				case unix.RTM_NEWLINK, unix.RTM_DELLINK:
				case unix.NLMSG_ERROR:
					if len(m.Data) >= 4 {
						if errno := int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
							report(fmt.Errorf("netlink error message: %w", unix.Errno(-errno)))
						}
					}
					continue
				default:
					continue
				}
				if len(m.Data) < unix.SizeofIfInfomsg || db.skipRaw(m.Data) {
					continue
				}
				hdr := unix.NlMsghdr(m.Header)
				link, err := netlink.LinkDeserialize(&hdr, m.Data)
				if err != nil {
					report(err)
					continue
				}
				select {
				case ch <- netlink.LinkUpdate{IfInfomsg: *nl.DeserializeIfInfomsg(m.Data), Header: hdr, Link: link}:
				case <-done:
					return
				}
			}
		}
	}()
	return nil
}

// skipRaw is irrelevant for a raw RTM_NEWLINK/RTM_DELLINK payload (an
// ifinfomsg and its attributes), read without decoding the link.
func (db *DB) skipRaw(data []byte) bool {
	index := int(int32(binary.NativeEndian.Uint32(data[4:8])))
	if _, known := db.ByIfindex(index); known {
		return false
	}
	kind := linkKind(data[unix.SizeofIfInfomsg:])
	if softwareKinds[kind] {
		return true
	}
	return kind == "veth" && db.kernelIsTruth()
}

// linkKind finds IFLA_LINKINFO / IFLA_INFO_KIND in a link's attributes,
// "" if there is none.
func linkKind(attrs []byte) string {
	info, ok := rtAttr(attrs, unix.IFLA_LINKINFO)
	if !ok {
		return ""
	}
	kind, ok := rtAttr(info, unix.IFLA_INFO_KIND)
	if !ok {
		return ""
	}
	for len(kind) > 0 && kind[len(kind)-1] == 0 {
		kind = kind[:len(kind)-1]
	}
	return string(kind)
}

// rtAttr returns the payload of the first attribute of type typ in a
// sequence of netlink attributes (4-byte aligned, length including the
// 4-byte header); malformed input ends the search.
func rtAttr(b []byte, typ uint16) ([]byte, bool) {
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) &^ unix.NLA_F_NESTED
		if l < unix.SizeofRtAttr || l > len(b) {
			return nil, false
		}
		if t == typ {
			return b[unix.SizeofRtAttr:l], true
		}
		next := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if next >= len(b) {
			return nil, false
		}
		b = b[next:]
	}
	return nil, false
}
