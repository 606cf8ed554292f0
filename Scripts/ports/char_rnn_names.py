#!/usr/bin/env python3
"""PyTorch's tutorial "NLP From Scratch: Classifying Names with a Character-Level RNN", in
its current version (the 2024 rewrite: `CharRNN` = nn.RNN + Linear h2o + LogSoftmax over
the final hidden state, a `NamesDataset`, random_split with a seeded generator, mini-batches
whose summed NLLLoss is clipped to norm 3 before an SGD step, and a confusion matrix), on a
small deterministic subset of the names data, with torch.set_num_threads(1).

Changes from the tutorial, each because the tutorial's code cannot be reproduced from Swift:
the subset (the first 30 names of five languages) is handed to NamesDataset instead of a
directory; the labels are sorted (the tutorial's `list(set)` order changes between runs);
the mini-batches come from a DataLoader with a seeded torch.Generator instead of Python's
unseeded `random.shuffle` and `np.array_split` (the same 64-name batches: 128 training
names); 10 epochs instead of 27; the confusion matrix is computed but not plotted.

Ported in Tests/RecurrentTests/Ports/CharRNNNamesPortTests.swift. Between the `fixture:`
markers it writes Tests/RecurrentTests/Fixtures/ports/char_rnn_names.json: the subset, the
initial weights (char_rnn_names.safetensors), the loss of every step, the average batch loss of every epoch, the test
outputs, guesses and confusion matrix.

Usage: python3 Scripts/ports/char_rnn_names.py
"""
import string
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader
# fixture:begin
import os
from fixture_io import enc, write_json, write_safetensors
torch.set_num_threads(1)
NAMES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Examples", "Support", "Resources", "names")
names_by_label = {}
for language in ["Chinese", "Czech", "Greek", "Irish", "Japanese"]:
    with open(os.path.join(NAMES, language + ".txt"), encoding="utf-8") as f:
        names_by_label[language] = f.read().strip().split("\n")[:30]
step_losses = []
# fixture:end
torch.manual_seed(0)

# We can use "_" to represent an out-of-vocabulary character, that is, any character we are not handling in our model
allowed_characters = string.ascii_letters + " .,;'" + "_"
n_letters = len(allowed_characters)


# Find letter index from all_letters, e.g. "a" = 0
def letterToIndex(letter):
    # return our out-of-vocabulary character if we encounter a letter unknown to our model
    if letter not in allowed_characters:
        return allowed_characters.find("_")
    else:
        return allowed_characters.find(letter)


# Turn a line into a <line_length x 1 x n_letters>,
# or an array of one-hot letter vectors
def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class NamesDataset(Dataset):

    def __init__(self, names_by_label):
        labels_set = set()  # set of all classes
        self.data = []
        self.data_tensors = []
        self.labels = []
        self.labels_tensors = []
        for label, lines in names_by_label.items():
            labels_set.add(label)
            for name in lines:
                self.data.append(name)
                self.data_tensors.append(lineToTensor(name))
                self.labels.append(label)
        # Cache the tensor representation of the labels
        self.labels_uniq = sorted(labels_set)
        for idx in range(len(self.labels)):
            temp_tensor = torch.tensor([self.labels_uniq.index(self.labels[idx])], dtype=torch.long)
            self.labels_tensors.append(temp_tensor)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        data_item = self.data[idx]
        data_label = self.labels[idx]
        data_tensor = self.data_tensors[idx]
        label_tensor = self.labels_tensors[idx]
        return label_tensor, data_tensor, data_label, data_item


alldata = NamesDataset(names_by_label)
print(f"loaded {len(alldata)} items of data")
train_set, test_set = torch.utils.data.random_split(alldata, [.85, .15], generator=torch.Generator().manual_seed(2024))
print(f"train examples = {len(train_set)}, validation examples = {len(test_set)}")


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(CharRNN, self).__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        rnn_out, hidden = self.rnn(line_tensor)
        output = self.h2o(hidden[0])
        output = self.softmax(output)
        return output


n_hidden = 128
rnn = CharRNN(n_letters, n_hidden, len(alldata.labels_uniq))
# fixture:begin
initial = {k: v.detach().clone() for k, v in rnn.state_dict().items()}
# fixture:end


def label_from_output(output, output_labels):
    top_n, top_i = output.topk(1)
    label_i = top_i[0].item()
    return output_labels[label_i], label_i


def train(rnn, training_data, n_epoch=10, n_batch_size=64, report_every=50, learning_rate=0.2, criterion=nn.NLLLoss()):
    # Keep track of losses for plotting
    current_loss = 0
    all_losses = []
    rnn.train()
    optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)
    print(f"training on data set with n = {len(training_data)}")
    loader = DataLoader(training_data, batch_size=n_batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(17), collate_fn=list)
    for iter in range(1, n_epoch + 1):
        rnn.zero_grad()  # clear the gradients
        for idx, batch in enumerate(loader):
            batch_loss = 0
            for (label_tensor, text_tensor, label, text) in batch:  # for each example in this batch
                output = rnn.forward(text_tensor)
                loss = criterion(output, label_tensor)
                batch_loss += loss
            # optimize parameters
            batch_loss.backward()
            nn.utils.clip_grad_norm_(rnn.parameters(), 3)
            optimizer.step()
            optimizer.zero_grad()
            current_loss += batch_loss.item() / len(batch)
            # fixture:begin
            step_losses.append(batch_loss.item())
            # fixture:end
        all_losses.append(current_loss / len(loader))
        if iter % report_every == 0:
            print(f"{iter} ({iter / n_epoch:.0%}): \t average batch loss = {all_losses[-1]}")
        current_loss = 0
    return all_losses


all_losses = train(rnn, train_set, n_epoch=10, learning_rate=0.15, report_every=5)


def evaluate(rnn, testing_data, classes):
    confusion = torch.zeros(len(classes), len(classes))
    rnn.eval()  # set to eval mode
    with torch.no_grad():  # do not record the gradients during eval phase
        for i in range(len(testing_data)):
            (label_tensor, text_tensor, label, text) = testing_data[i]
            output = rnn(text_tensor)
            guess, guess_i = label_from_output(output, classes)
            label_i = classes.index(label)
            confusion[label_i][guess_i] += 1
            # fixture:begin
            outputs.append(output[0])
            guesses.append(guess_i)
            # fixture:end
    # Normalize by dividing every row by its sum
    for i in range(len(classes)):
        denom = confusion[i].sum()
        if denom > 0:
            confusion[i] = confusion[i] / denom
    return confusion


# fixture:begin
outputs, guesses = [], []
# fixture:end
confusion = evaluate(rnn, test_set, classes=alldata.labels_uniq)
print(confusion)
# fixture:begin
write_safetensors("char_rnn_names", initial)
write_json("char_rnn_names", {"torch": torch.__version__, "names_by_label": [[k, v] for k, v in names_by_label.items()],
                              "step_losses": step_losses, "all_losses": all_losses, "test_outputs": enc(torch.stack(outputs)),
                              "guesses": guesses, "confusion": enc(confusion), "train_indices": train_set.indices})
# fixture:end
