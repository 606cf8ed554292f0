// Recurrent
