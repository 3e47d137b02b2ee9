"""CPU detection on real /proc/cpuinfo samples (an AMX Xeon, an AVX2-only Haswell Xeon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab import cpu

DATA = Path(__file__).parent / "data" / "cpuinfo"
AMX = DATA / "xeon_sapphire_rapids_amx.txt"
AVX2 = DATA / "xeon_e5_2680_v3_avx2.txt"


def test_amx_sample() -> None:
    found = cpu.parse_cpuinfo(AMX.read_text())
    assert found.model_name == "Intel(R) Xeon(R) Processor"
    assert found.found == [
        "AMX-BF16",
        "AMX-INT8",
        "AVX-512 BF16",
        "AVX-512 VNNI",
        "AVX-VNNI",
        "AVX-512",
        "AVX2",
    ]
    assert found.kind == "amx" and found.native_bf16 and found.vnni
    assert found.key() == "amx-bf16-vnni"


def test_avx2_only_sample() -> None:
    found = cpu.parse_cpuinfo(AVX2.read_text())
    assert found.model_name.startswith("Intel(R) Xeon(R) CPU E5-2680 v3")
    assert found.found == ["AVX2"]
    assert found.kind == "avx2" and not found.native_bf16 and not found.vnni
    assert found.key() == "avx2"


def test_only_the_first_processor_block_is_read() -> None:
    text = AVX2.read_text() + "\n" + AMX.read_text()
    assert cpu.parse_cpuinfo(text).kind == "avx2"


def test_arm_features_line_and_unknown_cpu() -> None:
    arm = cpu.parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32\n")
    assert arm.kind == "basic" and arm.found == [] and arm.has("asimd")
    assert cpu.parse_cpuinfo("").kind == "basic"


def test_detect_reads_the_file_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu.ENV_CPUINFO, str(AVX2))
    assert cpu.detect().kind == "avx2" and cpu.detect().source == str(AVX2)
    monkeypatch.delenv(cpu.ENV_CPUINFO)
    here = cpu.detect()
    assert here.source == "/proc/cpuinfo"
    assert here == cpu.parse_cpuinfo(Path("/proc/cpuinfo").read_text(), "/proc/cpuinfo")
