# SPDX-License-Identifier: GPL-2.0
#
# bpf/vfio_owner.mk - build the CO-RE BPF object and its skeleton.
#
# Included by tools/vfio-ownertop/Makefile, which sets:
#   OT_TOP    the project's top directory
#   OT_OUT    where everything is built (build/ownertop)
#
# vmlinux.h is generated at build time from the BTF of the patched test
# kernel: it is the one that declares the vfio_type1 trace records.  Set
# VMLINUX_BTF to build against another kernel with the same patches.  The
# object is relocated by CO-RE when loaded, so it runs on any kernel that
# has the tracepoints, not only on the one it was built against.

VMLINUX_BTF ?= $(OT_TOP)/build/kernel-test/vmlinux
BPF_CLANG ?= clang
BPFTOOL ?= bpftool
BPF_ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
BPF_CFLAGS ?= -g -O2 -Wall

OT_BPF_SRC := $(OT_TOP)/bpf/vfio_owner.bpf.c
OT_BPF_HDR := $(OT_TOP)/bpf/vfio_owner.h
OT_VMLINUX_H := $(OT_OUT)/vmlinux.h
OT_BPF_OBJ := $(OT_OUT)/vfio_owner.bpf.o
OT_SKEL := $(OT_OUT)/vfio_owner.skel.h

$(OT_VMLINUX_H): $(VMLINUX_BTF)
	@mkdir -p $(@D)
	@test -r $< || { echo "no BTF at $<: build the kernel (make kernel)" \
		"or set VMLINUX_BTF" >&2; exit 1; }
	$(BPFTOOL) btf dump file $< format c > $@.tmp
	@mv $@.tmp $@

$(OT_BPF_OBJ): $(OT_BPF_SRC) $(OT_BPF_HDR) $(OT_VMLINUX_H)
	$(BPF_CLANG) -target bpf -D__TARGET_ARCH_$(BPF_ARCH) $(BPF_CFLAGS) \
		-I$(OT_OUT) -I$(OT_TOP)/bpf -c $< -o $@.tmp
	@mv $@.tmp $@

$(OT_SKEL): $(OT_BPF_OBJ)
	$(BPFTOOL) gen skeleton $< > $@.tmp
	@mv $@.tmp $@
