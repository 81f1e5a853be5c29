"""lessons._core.machine: the CPU name a stored measurement records."""

import platform

from lessons._core.machine import cpu_name


def test_cpu_name_is_the_first_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                       "model name\t: AMD EPYC 7B13 64-Core Processor\nprocessor\t: 1\n"
                       "model name\t: another: CPU\n")
    assert cpu_name(cpuinfo) == "AMD EPYC 7B13 64-Core Processor"


def test_cpu_name_falls_back_to_platform(tmp_path):
    fallback = platform.processor() or platform.machine()
    assert cpu_name(tmp_path / "missing") == fallback  # no such file
    no_model = tmp_path / "cpuinfo"
    no_model.write_text("processor\t: 0\nfeatures\t: fp asimd\n")  # e.g. some ARM kernels
    assert cpu_name(no_model) == fallback


def test_cpu_name_reads_proc_cpuinfo_by_default():
    assert cpu_name() == cpu_name("/proc/cpuinfo") and cpu_name()
