#!/usr/bin/env python3
"""A many-to-one LSTM regression with mini-batches, as a PyTorch user writes one: the
airline passengers series (1949-1960, monthly) standardised with the first nine years'
statistics, windows of 12 months predicting the next, a TensorDataset and a DataLoader
(batch size 20, shuffled by a seeded torch.Generator), an LSTM + Linear head on the last
step's output, MSELoss, Adam with a StepLR schedule, clip_grad_norm_, a checkpoint of the
model, optimizer, scheduler and the loader's generator after 20 epochs that a fresh model
resumes from for 20 more, and the test error under no_grad. torch.set_num_threads(1).

Ported in Tests/RecurrentTests/Ports/AirlineRegressionPortTests.swift. Between the
`fixture:` markers it reads Examples/Support/Resources/airline-passengers.csv and writes
Tests/RecurrentTests/Fixtures/ports/airline_regression.{json,safetensors}: the series, the
initial weights, every epoch's training loss and learning rate, the test error and
predictions.

Usage: python3 Scripts/ports/airline_regression.py
"""
import os
import tempfile
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
# fixture:begin
import csv
from fixture_io import enc, write_json, write_safetensors
torch.set_num_threads(1)
CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Examples", "Support", "Resources", "airline-passengers.csv")
with open(CSV) as f:
    passengers = [float(row["passengers"]) for row in csv.DictReader(f)]
epoch_losses, learning_rates = [], []
# fixture:end
torch.manual_seed(0)
WINDOW, TRAIN_MONTHS, EPOCHS = 12, 108, 40

series = torch.tensor(passengers)
series = (series - series[:TRAIN_MONTHS].mean()) / series[:TRAIN_MONTHS].std()
inputs = torch.stack([series[i:i + WINDOW] for i in range(len(series) - WINDOW)]).unsqueeze(-1)
targets = series[WINDOW:].unsqueeze(-1)
n_train = TRAIN_MONTHS - WINDOW  # the windows whose target is in the first nine years
train_data = TensorDataset(inputs[:n_train], targets[:n_train])
test_data = TensorDataset(inputs[n_train:], targets[n_train:])


class Forecaster(nn.Module):
    def __init__(self, hidden_size=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1])  # many-to-one: the last step's output


def make_run(generator):
    model = Forecaster()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    loader = DataLoader(train_data, batch_size=20, shuffle=True, generator=generator)
    return model, optimizer, scheduler, loader


criterion = nn.MSELoss()


def train_epoch(model, optimizer, scheduler, loader):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        total += loss.item() * len(x)
    scheduler.step()
    return total / len(train_data)


model, optimizer, scheduler, loader = make_run(torch.Generator().manual_seed(42))
# fixture:begin
initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
# fixture:end
for epoch in range(EPOCHS // 2):
    loss = train_epoch(model, optimizer, scheduler, loader)
    print(f"epoch {epoch}: loss {loss:.5f}, lr {scheduler.get_last_lr()[0]:.5f}")
    # fixture:begin
    epoch_losses.append(loss)
    learning_rates.append(scheduler.get_last_lr()[0])
    # fixture:end
path = os.path.join(tempfile.mkdtemp(), "forecaster.pt")
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "generator": loader.generator.get_state()}, path)

# A new process would start here: a fresh model, optimizer, scheduler and loader, resumed.
generator = torch.Generator()
model, optimizer, scheduler, loader = make_run(generator)
checkpoint = torch.load(path)
model.load_state_dict(checkpoint["model"])
optimizer.load_state_dict(checkpoint["optimizer"])
scheduler.load_state_dict(checkpoint["scheduler"])
generator.set_state(checkpoint["generator"])
for epoch in range(EPOCHS // 2, EPOCHS):
    loss = train_epoch(model, optimizer, scheduler, loader)
    print(f"epoch {epoch}: loss {loss:.5f}, lr {scheduler.get_last_lr()[0]:.5f}")
    # fixture:begin
    epoch_losses.append(loss)
    learning_rates.append(scheduler.get_last_lr()[0])
    # fixture:end

model.eval()
with torch.no_grad():
    x, y = test_data.tensors
    predictions = model(x)
    test_loss = criterion(predictions, y).item()
print(f"test MSE (standardised): {test_loss:.5f}")
# fixture:begin
write_safetensors("airline_regression", initial)
write_json("airline_regression", {"torch": torch.__version__, "passengers": passengers, "epoch_losses": epoch_losses,
                                  "learning_rates": learning_rates, "test_loss": [test_loss],
                                  "predictions": enc(predictions)})
# fixture:end
