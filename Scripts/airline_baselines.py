#!/usr/bin/env python3
"""The statsmodels baselines of the airline example, and the bundled public series.

Protocol (the `airline` command's): fitted on the first 120 months of
Examples/Airline/Library/Resources/airline-passengers.csv, then run one step ahead over the
last 24 months with the parameters fixed (each forecast from the true values before it).

  - SARIMA(0,1,1)(0,1,1)12 on logs (Box & Jenkins' "airline model"), forecast exp(mean of log);
  - ETS(M,A,M) (statsmodels' ETSModel, estimated initial states);
  - as a check of the Swift Holt-Winters (HoltWinters.swift): ExponentialSmoothing(trend="add",
    seasonal="mul") with the same simple initial states (Hyndman & Athanasopoulos §7.6), its
    smoothing parameters, SSE and test RMSE (printed; the figures are in
    Tests/ExamplesTests/ForecastTests.swift).

Writes Examples/Airline/Library/Resources/airline-statsmodels.json, which `airline` prints
beside its own figures (labelled "statsmodels <version>"). With --export-datasets, also writes
the two extra series of Examples/Airline/Library/Resources/README.md from statsmodels.datasets.

Usage:
  python3 Scripts/airline_baselines.py [--export-datasets]
"""
import argparse
import json
import os
import warnings

import numpy as np
import statsmodels
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.statespace.sarimax import SARIMAX

HERE = os.path.dirname(os.path.abspath(__file__))
RESOURCES = os.path.join(HERE, "..", "Examples", "Airline", "Library", "Resources")
TRAIN, TEST, M = 120, 24, 12


def load_airline():
    rows = [line.strip().split(",") for line in open(os.path.join(RESOURCES, "airline-passengers.csv"))][1:]
    return np.array([float(count) for _, count in rows if _])


def rmse(forecast, actual):
    return float(np.sqrt(np.mean((np.asarray(forecast) - np.asarray(actual)) ** 2)))


def sarima(y):
    fitted = SARIMAX(np.log(y[:TRAIN]), order=(0, 1, 1), seasonal_order=(0, 1, 1, M)).fit(disp=False)
    applied = fitted.apply(np.log(y))       # the same parameters, filtered over the whole series
    forecast = np.exp(applied.fittedvalues[TRAIN:])
    return dict(name="SARIMA(0,1,1)(0,1,1)12 on logs", rmse=rmse(forecast, y[TRAIN:]), forecast=forecast.tolist(),
                parameters={k: float(v) for k, v in zip(fitted.model.param_names, fitted.params)})


def ets(y):
    spec = dict(error="mul", trend="add", seasonal="mul", seasonal_periods=M)
    fitted = ETSModel(y[:TRAIN], **spec).fit(disp=False)
    forecast = ETSModel(y, **spec).smooth(fitted.params).fittedvalues[TRAIN:]
    return dict(name="ETS(M,A,M)", rmse=rmse(forecast, y[TRAIN:]), forecast=np.asarray(forecast).tolist(),
                parameters={k: float(v) for k, v in zip(fitted.model.param_names, fitted.params)
                            if not k.startswith("initial_seasonal")})


def holt_winters_check(y, train=TRAIN):
    """ExponentialSmoothing with the simple initial states that HoltWinters.swift uses."""
    level = y[:M].mean()
    trend = ((y[M:2 * M] - y[:M]) / M).mean()
    seasonal = y[:M] / level
    init = dict(trend="add", seasonal="mul", seasonal_periods=M, initialization_method="known",
                initial_level=level, initial_trend=trend, initial_seasonal=seasonal)
    fitted = ExponentialSmoothing(y[:train], **init).fit()
    p = fitted.params
    fixed = ExponentialSmoothing(y, **init).fit(smoothing_level=p["smoothing_level"], smoothing_trend=p["smoothing_trend"],
                                                smoothing_seasonal=p["smoothing_seasonal"], optimized=False)
    return dict(alpha=p["smoothing_level"], beta=p["smoothing_trend"], gamma=p["smoothing_seasonal"], sse=fitted.sse,
                test_rmse=rmse(fixed.fittedvalues[train:], y[train:]), first_forecasts=fitted.fittedvalues[:3].tolist())


def export_datasets():
    from statsmodels.datasets import co2, elnino
    # Mauna Loa CO2, weekly (Saturdays) 1958-03 .. 2001-12 -> monthly means of the weeks present.
    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean()
    gaps = monthly.isna()
    monthly = monthly.interpolate()          # a month with no weekly value at all: linear interpolation
    with open(os.path.join(RESOURCES, "co2-mauna-loa-monthly.csv"), "w") as f:
        f.write("month,co2\n")
        for stamp, value in monthly.items():
            f.write(f"{stamp:%Y-%m},{value:.3f}\n")
    print(f"co2: {len(monthly)} months {monthly.index[0]:%Y-%m}..{monthly.index[-1]:%Y-%m}, "
          f"{int(gaps.sum())} interpolated ({', '.join(f'{s:%Y-%m}' for s in monthly.index[gaps])})")
    # Nino 1+2 sea surface temperature, one row per year, one column per month -> one row per month.
    table = elnino.load_pandas().data
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    with open(os.path.join(RESOURCES, "nino12-sst-monthly.csv"), "w") as f:
        f.write("month,sst\n")
        for _, row in table.iterrows():
            for k, name in enumerate(months):
                f.write(f"{int(row['YEAR']):04d}-{k + 1:02d},{row[name]:.2f}\n")
    print(f"elnino: {len(table) * 12} months {int(table['YEAR'].iloc[0])}-01..{int(table['YEAR'].iloc[-1])}-12")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export-datasets", action="store_true", help="also write the CO2 and Nino 1+2 series")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    y = load_airline()
    models = [sarima(y), ets(y)]
    out = dict(statsmodels=statsmodels.__version__, trainingMonths=TRAIN, testMonths=TEST, models=models)
    with open(os.path.join(RESOURCES, "airline-statsmodels.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    for m in models:
        print(f"{m['name']}: test RMSE {m['rmse']:.2f}")
    print("Holt-Winters check (simple initial states):", holt_winters_check(y))
    print("Holt-Winters check on the first 36 months:", holt_winters_check(y[:48], train=36))
    if args.export_datasets:
        export_datasets()


if __name__ == "__main__":
    main()
