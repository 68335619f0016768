"""Proton RBE models vs the published equations of McNamara 2015, Wedenberg 2013, Carabe 2012.

References: A. L. McNamara, J. Schuemann, H. Paganetti, Phys Med Biol 60 (2015) 8399
(RBE_max = 0.99064 + 0.35605 LET_d/(α/β)_x, RBE_min = 1.1012 − 0.0038703 √(α/β)_x LET_d,
and the LQ expression for RBE(D)); M. Wedenberg, B. K. Lind, B. Hårdemark, Acta Oncol 52
(2013) 580 (RBE_max = 1 + 0.434 LET_d/(α/β)_x, RBE_min = 1); A. Carabe et al., Phys Med Biol
57 (2012) 1159 (RBE_max = 0.843 + 0.154·2.686 LET_d/(α/β)_x, RBE_min = 1.09 + 0.006·2.686
LET_d/(α/β)_x). The expected values were evaluated by hand from those equations (worked
out in the comments) at clinically typical points; the coefficients were also checked
against the independent compilation of Rørvik et al. 2018 (Phys Med Biol 63:185013).

Tolerance 1e-6 relative: closed-form arithmetic, no approximation.
"""

from __future__ import annotations

import pytest

from ionbeam.physics.radiobiology.proton_rbe import get_proton_rbe_model


def test_mcnamara_at_2_gy_let_5_alpha_beta_2() -> None:
    # RBE_max = 0.99064 + 0.35605·5/2 = 1.880765
    # RBE_min = 1.1012 − 0.0038703·√2·5 = 1.0738328
    # RBE = [√(2² + 4·2·2·1.880765 + 4·2²·1.0738328²) − 2]/(2·2) = 1.3121484
    rbe = get_proton_rbe_model("mcnamara2015").rbe(2.0, 5.0, 0.1, 0.05)
    assert float(rbe) == pytest.approx(1.3121484, rel=1e-6)


def test_mcnamara_at_1_8_gy_let_2_alpha_beta_10() -> None:
    # RBE_max = 0.99064 + 0.35605·2/10 = 1.06185, RBE_min = 1.1012 − 0.0038703·√10·2 = 1.0767221
    # RBE = [√(100 + 4·1.8·10·1.06185 + 4·1.8²·1.0767221²) − 10]/3.6 = 1.0659894
    rbe = get_proton_rbe_model("mcnamara2015").rbe(1.8, 2.0, 0.3, 0.03)
    assert float(rbe) == pytest.approx(1.0659894, rel=1e-6)


def test_wedenberg_at_2_gy_let_5_alpha_beta_2() -> None:
    # RBE_max = 1 + 0.434·5/2 = 2.085, RBE_min = 1
    # RBE = [√(4 + 16·2.085 + 16) − 2]/4 = (√53.36 − 2)/4 = 1.3261982
    rbe = get_proton_rbe_model("wedenberg2013").rbe(2.0, 5.0, 0.1, 0.05)
    assert float(rbe) == pytest.approx(1.3261982, rel=1e-6)


def test_carabe_at_2_gy_let_5_alpha_beta_2() -> None:
    # x = 2.686·5/2 = 6.715; RBE_max = 0.843 + 0.154x = 1.87711; RBE_min = 1.09 + 0.006x = 1.13029
    # RBE = [√(4 + 16·1.87711 + 16·1.13029²) − 2]/4 = (√54.47465 − 2)/4 = 1.3451736
    rbe = get_proton_rbe_model("carabe2012").rbe(2.0, 5.0, 0.1, 0.05)
    assert float(rbe) == pytest.approx(1.3451736, rel=1e-6)
