"""Exposes Debian's system libraries to Bazel as @system//:<name>.

Each library is a cc_library whose link flags come from pkg-config, queried
once when the repository is set up. Nothing is downloaded: the headers and
libraries come from the Debian packages that dev.sh installs.
"""

# name -> (pkg-config modules, extra link flags)
_LIBS = {
    "grpc": (["grpc++"], ["-lgrpc++_reflection"]),
    "protobuf": (["protobuf"], []),
    "absl": ([
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_synchronization",
        "absl_time",
        "absl_flags",
        "absl_flags_parse",
        "absl_flags_usage",
        "absl_hash",
        "absl_raw_hash_set",
    ], []),
    "openssl": (["openssl"], []),
    "re2": (["re2"], []),
    "sqlite": (["sqlite3"], []),
    "curl": (["libcurl"], []),
    "gtest": (["gtest", "gmock"], []),
    "gtest_main": (["gtest_main", "gmock"], []),
    "json": ([], []),
    "httplib": (["cpp-httplib"], []),
    # Prometheus client: core (registry, text format) and pull (Exposer,
    # the HTTP endpoint on Debian's civetweb).
    "prometheus": (["prometheus-cpp-pull", "prometheus-cpp-core"], []),
}

# Libraries whose headers must be compiled with the -D flags their
# pkg-config file names (Debian builds cpp-httplib with TLS and compression
# on; its header must see the same switches as its .so).
_DEFINES_FROM_PKG_CONFIG = ["httplib"]

def _pkg_config(ctx, args):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config %s failed (is the Debian -dev package installed? run ./dev.sh deps): %s" %
             (" ".join(args), result.stderr))
    return result.stdout.strip().split(" ") if result.stdout.strip() else []

def _system_libs_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (modules, extra) in _LIBS.items():
        linkopts = []
        if modules:
            linkopts = _pkg_config(ctx, ["--libs"] + modules)
        linkopts = linkopts + extra
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(linkopts))
        if name in _DEFINES_FROM_PKG_CONFIG:
            flags = _pkg_config(ctx, ["--cflags-only-other"] + modules)
            defines = [f[2:] for f in flags if f.startswith("-D")]
            lines.append("    defines = %s," % repr(defines))
        lines.append(")")
        lines.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(lines))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
