"""Physics of protons and ions in matter (depends on numpy and scipy only)."""

from ionbeam.physics.particles import PARTICLES, Particle, get_particle

__all__ = ["PARTICLES", "Particle", "get_particle"]
