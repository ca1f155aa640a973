"""Duration distributions, declared in scenarios and sampled by inverse transform.

Every random duration in a replication is drawn as a standard uniform from a named
stream (see :mod:`sim.rng`) and mapped through the inverse CDF of the distribution that
applies.  Keeping the uniforms separate from the distribution keeps common random
numbers intact when a scenario changes a staffing lever: the same request always gets the
same uniform, whatever else changed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

FloatArray = NDArray[np.float64]


class _Dist(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @abstractmethod
    def mean(self) -> float:
        """Mean duration in minutes."""

    @abstractmethod
    def ppf(self, u: FloatArray) -> FloatArray:
        """Inverse CDF: durations (minutes) for standard uniforms ``u``."""


class Exponential(_Dist):
    """Exponential duration with the given mean (minutes)."""

    dist: Literal["exponential"]
    mean_min: float = Field(gt=0)

    def mean(self) -> float:
        return self.mean_min

    def ppf(self, u: FloatArray) -> FloatArray:
        return -self.mean_min * np.log1p(-u)


class LogNormal(_Dist):
    """Log-normal duration given by its mean (minutes) and coefficient of variation."""

    dist: Literal["lognormal"]
    mean_min: float = Field(gt=0)
    cv: float = Field(gt=0, description="standard deviation / mean")

    def mean(self) -> float:
        return self.mean_min

    def ppf(self, u: FloatArray) -> FloatArray:
        from scipy.special import ndtri  # imported here: keeps `sim validate` fast

        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_min) - sigma2 / 2
        out: FloatArray = np.exp(mu + math.sqrt(sigma2) * ndtri(u))
        return out


class Fixed(_Dist):
    """A constant duration (minutes)."""

    dist: Literal["fixed"]
    value_min: float = Field(ge=0)

    def mean(self) -> float:
        return self.value_min

    def ppf(self, u: FloatArray) -> FloatArray:
        return np.full(u.shape, self.value_min)


class Uniform(_Dist):
    """Uniform duration between low_min and high_min."""

    dist: Literal["uniform"]
    low_min: float = Field(ge=0)
    high_min: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high_min < self.low_min:
            raise ValueError("high_min must be >= low_min")
        return self

    def mean(self) -> float:
        return (self.low_min + self.high_min) / 2

    def ppf(self, u: FloatArray) -> FloatArray:
        return self.low_min + (self.high_min - self.low_min) * u


class Empirical(_Dist):
    """Resample observed durations (minutes), optionally weighted."""

    dist: Literal["empirical"]
    values_min: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _check(self) -> Empirical:
        if any(v < 0 for v in self.values_min):
            raise ValueError("values_min must all be >= 0")
        if self.weights is not None:
            if len(self.weights) != len(self.values_min):
                raise ValueError("weights must have one entry per value in values_min")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 with a positive sum")
        return self

    def _cum(self) -> FloatArray:
        w = np.ones(len(self.values_min)) if self.weights is None else np.array(self.weights)
        cum: FloatArray = np.cumsum(w) / w.sum()
        return cum

    def mean(self) -> float:
        w = np.ones(len(self.values_min)) if self.weights is None else np.array(self.weights)
        return float(np.dot(w, self.values_min) / w.sum())

    def ppf(self, u: FloatArray) -> FloatArray:
        idx = np.searchsorted(self._cum(), u, side="right")
        idx = np.minimum(idx, len(self.values_min) - 1)
        return np.asarray(self.values_min, dtype=float)[idx]


Distribution = Annotated[
    Exponential | LogNormal | Fixed | Uniform | Empirical, Field(discriminator="dist")
]
"""Any duration distribution; the ``dist`` key selects the family."""

