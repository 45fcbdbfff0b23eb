# SPDX-License-Identifier: GPL-2.0
#
# check-trace.awk - check every vfio_type1 event of a tracefs trace against
# what the processes asked for, as seen by probes that are not part of the
# series:
#
#   vdo_tp/ioctl      kprobe at vfio_iommu_type1_ioctl entry: cmd and, for
#                     map/unmap, the user's struct (flags vaddr iova size)
#   vdo_tp/ioctl_ret  kretprobe of the same: the return value
#   vdo_tp/release    kprobe at vfio_iommu_type1_release: the container's
#                     last file closed; its mappings went before, with one
#                     unmap event as its last group was detached
#   sched/sched_process_fork, sched_process_exec, sched_process_exit,
#   task/task_rename (prctl PR_SET_NAME)
#
# The script replays the requests on a model of one container (owner,
# mappings, staged vaddrs, pages charged per tgid) and, for each vfio_type1
# event, prints
#
#   EV NAME PID key=value...          the event, fields normalized
#   CHECK ok|fail DESCRIPTION[: why]  whether every field matched the model
#
# plus FORK PARENT CHILD, EXEC PID COMM, EXIT PID lines for the caller and
# end-of-trace checks (every ioctl had its event, every exit of an owner
# its owner_close).  Why an owner_close came (its reason) is left to the
# caller, which knows what the flow did.  Assumes one container at a time, single-threaded
# callers, 4 KiB pages, and memfd pages pinned by one mapping only.
#
# Usage: awk -f check-trace.awk /sys/kernel/tracing/trace

function hex(s,    n, i, c) {
	s = tolower(s)
	if (substr(s, 1, 2) != "0x")
		return s + 0
	n = 0
	for (i = 3; i <= length(s); i++) {
		c = index("0123456789abcdef", substr(s, i, 1))
		if (!c)
			break
		n = n * 16 + c - 1
	}
	return n
}

function num(n) {
	return sprintf("%.0f", n)
}

# key=value fields of the event text into F[]
function fields(text,    n, t, i, eq) {
	for (i in F)
		delete F[i]
	n = split(text, t, " ")
	for (i = 1; i <= n; i++) {
		eq = index(t[i], "=")
		if (eq)
			F[substr(t[i], 1, eq - 1)] = substr(t[i], eq + 1)
		else
			F["_" i] = t[i]
	}
}

# name[tgid] as printed by change_owner
function split_owner(s, which,    lb) {
	lb = index(s, "[")
	F[which "_comm"] = substr(s, 1, lb - 1)
	F[which "_tgid"] = substr(s, lb + 1, length(s) - lb - 1)
}

# Compare one field; collect mismatches in why.
function want(key, expect) {
	if (F[key] "" != expect "")
		why = why sprintf(" %s=%s(want %s)", key, F[key], expect)
}

function report(desc) {
	if (why == "")
		print "CHECK ok " desc
	else
		print "CHECK fail " desc ":" why
	why = ""
}

function ev(name,    k, s) {
	s = "EV " name " " pid
	for (k in F)
		if (substr(k, 1, 1) != "_")
			s = s " " k "=" F[k]
	print s
}

function base(path,    n, p) {
	n = split(path, p, "/")
	return substr(p[n], 1, 15)
}

function model_remove(iova) {
	nmap--
	mbytes -= msize[iova]
	mpages -= mpg[iova]
	if (iova in staged) {
		delete staged[iova]
		nstaged--
	}
	delete msize[iova]
	delete mvaddr[iova]
	delete mpg[iova]
	if (!nmap)
		owner = 0
}

BEGIN {
	owner = 0; nmap = 0; mbytes = 0; mpages = 0; nstaged = 0
	CMD_MAP = "0x3b71"; CMD_UNMAP = "0x3b72"; CMD_CHANGE = "0x3b7a"
	why = ""
}

/^#/ { next }

{
	# "  COMM-PID  [CPU] FLAGS  SECS.USECS: EVENT: TEXT"
	if (!match($0, / +\[[0-9]+\] /))
		next
	head = substr($0, 1, RSTART - 1)
	rest = substr($0, RSTART + RLENGTH)
	sub(/^ +/, "", head)
	dash = 0
	for (i = length(head); i > 0; i--)
		if (substr(head, i, 1) == "-") { dash = i; break }
	hcomm = substr(head, 1, dash - 1)
	pid = substr(head, dash + 1) + 0
	split(rest, r, " ")
	ts = r[2]; sub(/:$/, "", ts)
	split(ts, tp, ".")
	us = tp[1] * 1000000 + tp[2]
	event = r[3]; sub(/:$/, "", event)
	text = rest
	sub(/^[^ ]+ +[^ ]+ +[^ ]+ */, "", text)
	fields(text)
}

event == "sched_process_fork" {
	comm[F["child_pid"]] = F["child_comm"]
	print "FORK " F["pid"] " " F["child_pid"]
	next
}
event == "sched_process_exec" {
	comm[pid] = base(F["filename"])
	print "EXEC " pid " " comm[pid]
	next
}
event == "task_rename" {
	comm[F["pid"]] = F["newcomm"]
	next
}
event == "sched_process_exit" {
	print "EXIT " pid
	if (pid == owner && nmap)
		need_close[pid] = 1
	next
}

event == "ioctl" {
	if (pid in pending)
		print "CHECK fail ioctl of " pid " entered twice"
	pending[pid] = F["cmd"]
	p_flags[pid] = hex(F["flags"])
	if (F["cmd"] == CMD_UNMAP) {
		# struct vfio_iommu_type1_dma_unmap has no vaddr: iova, size
		p_vaddr[pid] = ""
		p_iova[pid] = F["vaddr"]
		p_size[pid] = hex(F["iova"])
	} else {
		p_vaddr[pid] = F["vaddr"]
		p_iova[pid] = F["iova"]
		p_size[pid] = hex(F["size"])
	}
	p_us[pid] = us
	p_events[pid] = ""
	p_ret[pid] = ""
	next
}

event == "ioctl_ret" {
	if (!(pid in pending))
		next
	cmd = pending[pid]
	ret = F["ret"]
	desc = "ioctl " cmd " by " pid " (ret " ret ")"
	if (cmd == CMD_MAP || cmd == CMD_UNMAP || cmd == CMD_CHANGE) {
		if (p_events[pid] == "")
			why = why " no vfio_type1 event"
		else if (p_ret[pid] != ret "")
			why = why sprintf(" event ret=%s(want %s)", p_ret[pid], ret)
		if (cmd == CMD_CHANGE && ret == 0 && p_moved[pid] &&
		    p_events[pid] !~ /locked_vm_move/)
			why = why " no locked_vm_move"
		if (cmd == CMD_MAP && p_denied[pid] &&
		    p_events[pid] !~ /pin_denied/)
			why = why " no pin_denied"
		report(desc ": events" p_events[pid])
	}
	delete pending[pid]
	delete p_denied[pid]
	delete p_moved[pid]
	next
}

event == "release" {
	if (nmap)
		print "CHECK fail release by " pid ": " nmap \
		      " mappings went without an unmap event"
	locked[owner] -= mpages
	for (k in msize)
		model_remove(k)
	owner = 0
	next
}

# Detaching a container's last group, as its last file is closed, unmaps
# everything: one unmap, iova 0, size all the bytes, by the process closing.
event == "vfio_type1_unmap" && !(pid in pending) {
	ev("unmap")
	want("tgid", pid)
	want("owner", owner)
	want("iova", "0x0")
	want("size", sprintf("0x%x", mbytes))
	want("vaddr", "0x0")
	want("pages", num(mpages))
	want("nr", nmap)
	want("ret", 0)
	report("closing by " pid ": one unmap of all " nmap " mappings")
	locked[owner] -= mpages
	for (k in msize)
		model_remove(k)
	owner = 0
	next
}

event ~ /^vfio_type1_/ {
	name = substr(event, 12)
	if (name == "change_owner") {
		split_owner(F["_2"], "old")
		split_owner(F["_4"], "new")
	} else if (name == "locked_vm_move") {
		split(F["_3"], a, ":"); F["old_tgid"] = a[1]; F["old_locked_vm"] = a[2]
		split(F["_5"], a, ":"); F["new_tgid"] = a[1]; F["new_locked_vm"] = a[2]
	} else if (name == "stage_vaddr") {
		split(F["vaddr"], a, "->"); F["old_vaddr"] = a[1]; F["new_vaddr"] = a[2]
		split(F["staged"], a, "/"); F["staged"] = a[1]; F["nr_dmas"] = a[2]
		delete F["vaddr"]
	}
	ev(name)
	if (name != "owner_close" && !(pid in pending)) {
		print "CHECK fail " name " by " pid " outside of an ioctl"
		next
	}
	cmd = ""
	if (pid in pending) {
		cmd = pending[pid]
		p_events[pid] = p_events[pid] " " name
		if (name != "locked_vm_move" && name != "pin_denied")
			p_ret[pid] = F["ret"]
	}
}

event == "vfio_type1_pin_denied" {
	if (cmd != CMD_MAP || and_stage(p_flags[pid]))
		why = why " not in a map ioctl"
	want("tgid", pid)
	want("owner", owner)
	want("op", "map")
	want("ret", -1)
	if (!owner || owner == pid)
		why = why " caller is the owner (" owner ")"
	p_denied[pid] = 1
	report("pin_denied of " pid)
	next
}

function and_stage(flags) {
	return int(flags / 4) % 2
}

event == "vfio_type1_map" {
	iova = hex(p_iova[pid])
	if (cmd != CMD_MAP || and_stage(p_flags[pid]))
		why = why " not in a map ioctl"
	# A first mapping may be in a new container; later ones in the same.
	if (nmap)
		want("iommu", iommu)
	else
		iommu = F["iommu"]
	want("tgid", pid)
	want("iova", p_iova[pid])
	want("size", sprintf("0x%x", p_size[pid]))
	want("vaddr", p_vaddr[pid])
	if (owner && owner != pid)
		p_denied[pid] = 1
	if (F["ret"] == 0) {
		if (owner && owner != pid)
			why = why " mapped though " owner " owns"
		want("owner", pid)
		want("pages", num(p_size[pid] / 4096))
		want("nr", 1)
		owner = pid
		nmap++
		mbytes += p_size[pid]
		mpages += p_size[pid] / 4096
		msize[iova] = p_size[pid]
		mvaddr[iova] = p_vaddr[pid]
		mpg[iova] = p_size[pid] / 4096
		locked[pid] += p_size[pid] / 4096
	} else {
		want("owner", owner)
		want("pages", 0)
		want("nr", 0)
	}
	report("map by " pid " iova " p_iova[pid] " ret " F["ret"])
	next
}

event == "vfio_type1_stage_vaddr" {
	iova = hex(p_iova[pid])
	if (cmd != CMD_MAP || !and_stage(p_flags[pid]))
		why = why " not in a staging map ioctl"
	want("iommu", iommu)
	want("tgid", pid)
	want("iova", p_iova[pid])
	want("size", sprintf("0x%x", p_size[pid]))
	want("old_vaddr", (iova in mvaddr) ? mvaddr[iova] : "0x0")
	want("new_vaddr", p_vaddr[pid])
	if (F["ret"] == 0 && !(iova in staged)) {
		staged[iova] = p_vaddr[pid]
		nstaged++
	} else if (F["ret"] == 0) {
		staged[iova] = p_vaddr[pid]
	}
	want("staged", nstaged)
	want("nr_dmas", nmap)
	report("stage_vaddr by " pid " iova " p_iova[pid])
	next
}

event == "vfio_type1_unmap" {
	if (cmd != CMD_UNMAP)
		why = why " not in an unmap ioctl"
	want("iommu", iommu)
	want("tgid", pid)
	want("owner", owner)
	all = int(p_flags[pid] / 2) % 2
	lo = all ? 0 : hex(p_iova[pid])
	hi = all ? 2^62 : lo + p_size[pid]
	n = 0; b = 0; pg = 0; o = owner
	for (k in msize) {
		if (k + 0 >= lo && k + 0 < hi) {
			n++; b += msize[k]; pg += mpg[k]
			gone[k] = 1
		}
	}
	want("iova", sprintf("0x%x", lo))
	want("size", sprintf("0x%x", b))
	want("vaddr", "0x0")
	want("pages", num(pg))
	want("nr", n)
	if (F["ret"] == 0) {
		for (k in gone)
			model_remove(k)
		locked[o] -= pg
	}
	for (k in gone)
		delete gone[k]
	report("unmap by " pid " of " n " mappings")
	next
}

event == "vfio_type1_locked_vm_move" {
	if (cmd != CMD_CHANGE)
		why = why " not in a change-owner ioctl"
	want("iommu", iommu)
	want("old_tgid", owner)
	want("new_tgid", pid)
	want("pages", num(mpages))
	if (F["ret"] == 0) {
		want("old_locked_vm", num(locked[owner] - mpages))
		want("new_locked_vm", num(locked[pid] + mpages))
	} else {
		want("old_locked_vm", num(locked[owner]))
		want("new_locked_vm", num(locked[pid]))
	}
	if (limit != "")
		want("limit", limit)
	if (lock_cap != "")
		want("lock_cap", lock_cap)
	report("locked_vm_move " owner " -> " pid " ret " F["ret"])
	next
}

event == "vfio_type1_change_owner" {
	if (cmd != CMD_CHANGE)
		why = why " not in a change-owner ioctl"
	want("iommu", iommu)
	want("old_tgid", owner)
	want("old_comm", owner ? comm[owner] : "")
	want("new_tgid", pid)
	want("new_comm", comm[pid])
	want("dmas", nmap)
	want("bytes", num(mbytes))
	hold = F["hold_ns"] + 0
	# The lock was taken after the ioctl entered, released after the event.
	if (hold <= 0 || hold > (us - p_us[pid] + 2) * 1000)
		why = why sprintf(" hold_ns=%s(ioctl entered %d us before)",
				  F["hold_ns"], us - p_us[pid])
	moved = owner && owner != pid && nmap
	if (F["ret"] == 0) {
		want("pages", moved ? num(mpages) : 0)
		if (moved) {
			p_moved[pid] = 1
			locked[owner] -= mpages
			locked[pid] += mpages
		}
		if (nmap)
			owner = pid
		for (k in staged) {
			mvaddr[k] = staged[k]
			delete staged[k]
		}
		nstaged = 0
	}
	report("change_owner " F["old_tgid"] " -> " pid " ret " F["ret"])
	next
}

event == "vfio_type1_owner_close" {
	want("iommu", iommu)
	want("owner", owner)
	want("dmas", nmap)
	want("pages", num(mpages))
	if (hcomm !~ /^kworker/)
		why = why " from " hcomm ", not a kworker"
	if (owner in need_close) {
		print "CHECK ok owner " owner " exited owning mappings: owner_close followed"
		delete need_close[owner]
	}
	locked[owner] -= mpages
	for (k in msize)
		model_remove(k)
	owner = 0
	report("owner_close of " F["owner"] " reason " F["reason"])
	next
}

END {
	for (p in pending)
		if (pending[p] == CMD_MAP || pending[p] == CMD_UNMAP ||
		    pending[p] == CMD_CHANGE)
			print "CHECK fail ioctl " pending[p] " of " p " never returned"
	for (p in need_close)
		print "CHECK fail owner " p " exited owning mappings: no owner_close"
}
