"""latchkey_proto: C++ protobuf + gRPC code from one .proto, with system protoc.

Debian's protoc and grpc_cpp_plugin generate the code in a genrule; the
well-known types (google/protobuf/*.proto) come from /usr/include.
"""

def latchkey_proto(name, deps = []):
    src = name + ".proto"
    outs = [
        name + ".pb.h",
        name + ".pb.cc",
        name + ".grpc.pb.h",
        name + ".grpc.pb.cc",
    ]
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d.lstrip(":") + ".proto" for d in deps],
        outs = outs,
        cmd = " ".join([
            "protoc",
            "-I.",
            "-I/usr/include",
            "--cpp_out=$(GENDIR)",
            "--grpc_out=$(GENDIR)",
            "--plugin=protoc-gen-grpc=$$(which grpc_cpp_plugin)",
            "$(location %s)" % src,
        ]),
    )
    native.cc_library(
        name = name + "_cc_proto",
        srcs = [name + ".pb.cc", name + ".grpc.pb.cc"],
        hdrs = [name + ".pb.h", name + ".grpc.pb.h"],
        deps = [d + "_cc_proto" for d in deps] + [
            "@system//:grpc",
            "@system//:protobuf",
        ],
        copts = ["-Wno-unused-parameter"],
    )
    native.filegroup(
        name = name + "_proto_file",
        srcs = [src],
    )
